"""What people read from the registry: reports, worklists, research, prevalence, comparisons."""
