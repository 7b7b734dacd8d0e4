"""Session-based recommendation with GRU4Rec (Hidasi et al. 2016, 2018)."""
