//! Interconnect configuration: links, topologies, one documented `Default` per struct, RON.

use serde::{Deserialize, Serialize};

use super::error::{InterconnectError, Result};

/// Bandwidth of one link.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Bandwidth {
    /// Bytes per nanosecond (= GB/s).
    BytesPerNs(f64),
    /// Bytes per cycle of a clock of `clock_ghz` GHz; equals `bytes * clock_ghz` bytes/ns.
    BytesPerCycle {
        /// Bytes moved per clock cycle (the link's width).
        bytes: f64,
        /// The link clock in GHz.
        clock_ghz: f64,
    },
}

impl Bandwidth {
    /// The bandwidth in bytes per ns.
    pub fn bytes_per_ns(&self) -> f64 {
        match *self {
            Self::BytesPerNs(b) => b,
            Self::BytesPerCycle { bytes, clock_ghz } => bytes * clock_ghz,
        }
    }
}

/// One link: a fixed latency plus a bandwidth.
///
/// Moving `n` bytes over a free link takes `latency_ns + n / bandwidth` and occupies the link for
/// `n / bandwidth` (the latency is pipelined: the next transfer may enter as soon as the previous
/// one's last byte has entered).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinkConfig {
    /// Time for the first byte to cross the link, ns (default 1.0: a register stage plus wire
    /// at about 1 GHz; GVSoC's cluster interconnect uses 1-2 cycles).
    pub latency_ns: f64,
    /// Bandwidth (default 64 bytes per cycle at 1 GHz = 64 bytes/ns: the Snitch cluster's
    /// 512-bit DMA data width, platform.md).
    pub bandwidth: Bandwidth,
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self {
            latency_ns: 1.0,
            bandwidth: Bandwidth::BytesPerCycle {
                bytes: 64.0,
                clock_ghz: 1.0,
            },
        }
    }
}

impl LinkConfig {
    /// Checks latency >= 0 and bandwidth > 0 (both finite); `field` prefixes the error.
    pub fn validate(&self, field: &'static str) -> Result<()> {
        if !(self.latency_ns.is_finite() && self.latency_ns >= 0.0) {
            return Err(InterconnectError::InvalidConfig {
                field,
                value: format!("latency_ns = {}", self.latency_ns),
                reason: "latency must be finite and >= 0",
            });
        }
        let bw = self.bandwidth.bytes_per_ns();
        if !(bw.is_finite() && bw > 0.0) {
            return Err(InterconnectError::InvalidConfig {
                field,
                value: format!("bandwidth = {bw} bytes/ns"),
                reason: "bandwidth must be finite and > 0",
            });
        }
        Ok(())
    }
}

/// A 2-D mesh of routers with XY (dimension-ordered) routing.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MeshConfig {
    /// Routers along X (default 4).
    pub width: u32,
    /// Routers along Y (default 4).
    pub height: u32,
    /// Router-to-router link, one per direction (default [`LinkConfig::default`]).
    pub link: LinkConfig,
    /// Endpoint-to-router (injection) and router-to-endpoint (ejection) port, one each per
    /// endpoint (default [`LinkConfig::default`]).
    pub port: LinkConfig,
}

impl Default for MeshConfig {
    fn default() -> Self {
        Self {
            width: 4,
            height: 4,
            link: LinkConfig::default(),
            port: LinkConfig::default(),
        }
    }
}

/// How endpoints are connected.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Topology {
    /// A dedicated link per ordered (source, destination) pair: only transfers between the same
    /// pair contend.
    PointToPoint(LinkConfig),
    /// One link shared by every transfer.
    Bus(LinkConfig),
    /// A 2-D mesh with XY routing; each endpoint attached to one router.
    Mesh(MeshConfig),
}

/// The interconnect's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InterconnectConfig {
    /// Topology and link parameters (default: point-to-point links of
    /// [`LinkConfig::default`], i.e. each tile has its own port to its cluster, as in the
    /// AHWA-LoRA study's tile-cluster pairs).
    pub topology: Topology,
}

impl Default for InterconnectConfig {
    fn default() -> Self {
        Self {
            topology: Topology::PointToPoint(LinkConfig::default()),
        }
    }
}

impl InterconnectConfig {
    /// Checks every link and the mesh size (1..=1024 routers per side).
    pub fn validate(&self) -> Result<()> {
        match &self.topology {
            Topology::PointToPoint(l) => l.validate("topology.PointToPoint"),
            Topology::Bus(l) => l.validate("topology.Bus"),
            Topology::Mesh(m) => {
                for (field, v) in [
                    ("topology.Mesh.width", m.width),
                    ("topology.Mesh.height", m.height),
                ] {
                    if !(1..=1024).contains(&v) {
                        return Err(InterconnectError::InvalidConfig {
                            field,
                            value: v.to_string(),
                            reason: "must be in 1..=1024",
                        });
                    }
                }
                m.link.validate("topology.Mesh.link")?;
                m.port.validate("topology.Mesh.port")
            }
        }
    }

    /// Parses and validates RON text (missing fields take their defaults).
    pub fn from_ron_str(text: &str) -> Result<Self> {
        let cfg: Self = ron::from_str(text).map_err(InterconnectError::Ron)?;
        cfg.validate()?;
        Ok(cfg)
    }
}
