//! The error type of the interconnect model.

/// Everything that can go wrong when configuring or using the interconnect.
#[derive(Debug, thiserror::Error)]
pub enum InterconnectError {
    /// A configuration field holds a value outside its documented range.
    #[error("invalid interconnect config: `{field}` ({value}): {reason}")]
    InvalidConfig {
        /// Dotted path of the field, e.g. `topology.Mesh.width`.
        field: &'static str,
        /// The rejected value, rendered.
        value: String,
        /// What the value must satisfy.
        reason: &'static str,
    },
    /// An endpoint was placed outside the mesh.
    #[error(
        "endpoint {endpoint} placed at router ({x}, {y}), outside the {width} x {height} mesh"
    )]
    Placement {
        /// The endpoint.
        endpoint: u32,
        /// Requested router X.
        x: u32,
        /// Requested router Y.
        y: u32,
        /// Mesh width.
        width: u32,
        /// Mesh height.
        height: u32,
    },
    /// RON text could not be parsed (the message carries line and column).
    #[error("interconnect config: {0}")]
    Ron(#[from] ron::error::SpannedError),
}

/// Result alias of the interconnect module.
pub type Result<T> = std::result::Result<T, InterconnectError>;
