//! Channel sourcing: which locations each channel promises from, and what it keeps back.
