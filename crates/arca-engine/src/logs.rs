//! Container logs (being written).
