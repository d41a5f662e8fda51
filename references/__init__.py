"""Reference data as package data: T-score reference populations and standard populations."""
