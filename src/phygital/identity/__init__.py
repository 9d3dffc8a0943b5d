"""One customer from every touchpoint: profiles, identifiers, resolution, merge and unmerge."""
