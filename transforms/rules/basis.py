"""Who is classified how (clinical-rules.md section 1): WHO T, ISCD Z, or not assessed."""

from __future__ import annotations

import polars as pl

from transforms.rules.names import fired
from transforms.rules.ruleset import Ruleset

#: Menopausal status values the contract knows; anything else (or null) is "unknown".
KNOWN_STATUS = ["pre", "peri", "post"]
#: Perimenopausal counts as postmenopausal (ISCD: WHO criteria apply in the transition).
POST_STATUS = ["peri", "post"]


def basis_stage(ruleset: Ruleset) -> list[pl.Expr]:
    """Fired columns of BASIS-WHO, BASIS-ISCD-Z, BASIS-PEDIATRIC and MENO-ASSUMED."""
    b = ruleset.basis
    age = pl.col("age_years")
    woman = pl.col("sex") == "F"
    adult = age >= b.adult_age
    status = pl.col("menopausal_status")
    known = status.is_in(KNOWN_STATUS).fill_null(False)
    post = status.is_in(POST_STATUS).fill_null(False) | (
        ~known & (age >= b.menopause_assumed_age)
    )
    who = adult & ((woman & post) | (~woman & (age >= b.men_who_age)))
    return [
        who.alias(fired("BASIS-WHO")),
        (adult & ~who).alias(fired("BASIS-ISCD-Z")),
        (~adult).alias(fired("BASIS-PEDIATRIC")),
        (woman & adult & ~known).alias(fired("MENO-ASSUMED")),
    ]
