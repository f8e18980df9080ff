//! Verdicts on hand-made timelines.
