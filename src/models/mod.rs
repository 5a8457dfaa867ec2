//! Prediction models.
