//! The interconnect: point-to-point links, a shared bus and a 2-D mesh with XY routing.
//!
//! This module owns link timing and occupancy: given a transfer of `n` bytes from one endpoint
//! to another that is ready at time `t`, it finds the path, waits for the links on it and
//! returns when the transfer starts and ends, reserving the links. It knows nothing about what
//! the endpoints are (tiles, clusters, L2 are numbered by the system level) and never schedules
//! anything itself: the event engine calls [`Interconnect::transfer`] when a transfer is requested
//! and schedules the completion at the returned end time.
//!
//! # Timing rule (cut-through with path reservation, GVSoC style)
//!
//! For a path of links `l_1 .. l_h` with latencies `L_i` and bandwidths `B_i` (bytes/ns):
//! - occupancy `O = ceil(n / min_i B_i)` (the bottleneck link sets the streaming rate: bandwidth
//!   occupancy takes the maximum over the hops);
//! - the head reaches link `i` at `start + sum_{j<i} L_j` (latency adds across hops);
//! - link `i` is busy from then for `O`; a later transfer may enter it only after that, so
//!   `start = max(ready, max_i (free_i - sum_{j<i} L_j))`;
//! - `end = start + sum_i L_i + O`, and `free_i = start + sum_{j<i} L_j + O`.
//!
//! This is cut-through (the tail follows the head without waiting at each hop), not
//! store-and-forward (which would pay `O` at every hop). Transfers are served in the order they
//! are requested (the engine's deterministic order). A transfer to the same endpoint is local:
//! no link, `end = ready`.
//!
//! Times are integer picoseconds; a latency in ns is rounded to the nearest ps, an occupancy is
//! rounded up to the next whole ps.

mod config;
mod error;

pub use config::{Bandwidth, InterconnectConfig, LinkConfig, MeshConfig, Topology};
pub use error::{InterconnectError, Result};

use std::collections::BTreeMap;

/// Time in picoseconds (the system level's time base).
pub type Ps = u64;

/// An endpoint (a tile, a cluster, L2, ...) as numbered by the user of the interconnect.
pub type Endpoint = u32;

/// Timing of one transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferTiming {
    /// When the head entered the first link, ps (>= the ready time).
    pub start: Ps,
    /// When the last byte arrived, ps.
    pub end: Ps,
    /// Links on the path.
    pub hops: u32,
}

impl TransferTiming {
    /// Time from `ready` to the end, including waiting for busy links.
    pub fn duration_from(&self, ready: Ps) -> Ps {
        self.end.saturating_sub(ready)
    }
}

/// Use statistics of one link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkStats {
    /// Picoseconds of occupancy.
    pub busy_ps: Ps,
    /// Bytes moved.
    pub bytes: u64,
    /// Transfers that used the link.
    pub transfers: u64,
}

#[derive(Debug, Clone)]
struct Link {
    latency_ps: Ps,
    bytes_per_ns: f64,
    free_at: Ps,
    stats: LinkStats,
}

impl Link {
    fn new(cfg: &LinkConfig) -> Self {
        Self {
            latency_ps: (cfg.latency_ns * 1000.0).round().max(0.0) as Ps,
            bytes_per_ns: cfg.bandwidth.bytes_per_ns(),
            free_at: 0,
            stats: LinkStats::default(),
        }
    }

    fn occupancy_ps(&self, bytes: u64) -> Ps {
        (bytes as f64 * 1000.0 / self.bytes_per_ns).ceil() as Ps
    }
}

/// Directions of a router's outgoing links.
const EAST: usize = 0;
const WEST: usize = 1;
const NORTH: usize = 2;
const SOUTH: usize = 3;

/// The interconnect state: links, their occupancy and the endpoints' placement.
#[derive(Debug, Clone)]
pub struct Interconnect {
    cfg: InterconnectConfig,
    links: Vec<Link>,
    /// Point-to-point links by (src, dst), created on first use.
    p2p: BTreeMap<(Endpoint, Endpoint), usize>,
    /// Mesh: router of each placed endpoint.
    placement: BTreeMap<Endpoint, (u32, u32)>,
    /// Mesh: injection and ejection port links of each endpoint, created on first use.
    ports: BTreeMap<Endpoint, (usize, usize)>,
    path: Vec<usize>,
}

impl Interconnect {
    /// Validates `cfg` and builds an idle interconnect (for a mesh, all router links).
    pub fn new(cfg: &InterconnectConfig) -> Result<Self> {
        cfg.validate()?;
        let mut links = Vec::new();
        match &cfg.topology {
            Topology::Bus(l) => links.push(Link::new(l)),
            Topology::Mesh(m) => {
                let n = (m.width * m.height) as usize * 4;
                links = vec![Link::new(&m.link); n];
            }
            Topology::PointToPoint(_) => {}
        }
        Ok(Self {
            cfg: *cfg,
            links,
            p2p: BTreeMap::new(),
            placement: BTreeMap::new(),
            ports: BTreeMap::new(),
            path: Vec::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &InterconnectConfig {
        &self.cfg
    }

    /// Places `endpoint` at mesh router (x, y). Without a placement, endpoint `e` sits at
    /// router `e mod (width * height)` in row-major order. No effect on other topologies.
    pub fn place(&mut self, endpoint: Endpoint, x: u32, y: u32) -> Result<()> {
        if let Topology::Mesh(m) = &self.cfg.topology {
            if x >= m.width || y >= m.height {
                return Err(InterconnectError::Placement {
                    endpoint,
                    x,
                    y,
                    width: m.width,
                    height: m.height,
                });
            }
            self.placement.insert(endpoint, (x, y));
        }
        Ok(())
    }

    fn router_of(&self, m: &MeshConfig, e: Endpoint) -> (u32, u32) {
        self.placement.get(&e).copied().unwrap_or_else(|| {
            let r = e % (m.width * m.height);
            (r % m.width, r / m.width)
        })
    }

    fn port_links(&mut self, m: &MeshConfig, e: Endpoint) -> (usize, usize) {
        if let Some(&p) = self.ports.get(&e) {
            return p;
        }
        let inj = self.links.len();
        self.links.push(Link::new(&m.port));
        self.links.push(Link::new(&m.port));
        self.ports.insert(e, (inj, inj + 1));
        (inj, inj + 1)
    }

    /// Fills `self.path` with the links from `src` to `dst` (empty when local).
    fn route(&mut self, src: Endpoint, dst: Endpoint) {
        self.path.clear();
        if src == dst {
            return;
        }
        match self.cfg.topology {
            Topology::Bus(_) => self.path.push(0),
            Topology::PointToPoint(l) => {
                let id = match self.p2p.get(&(src, dst)) {
                    Some(&id) => id,
                    None => {
                        self.links.push(Link::new(&l));
                        let id = self.links.len() - 1;
                        self.p2p.insert((src, dst), id);
                        id
                    }
                };
                self.path.push(id);
            }
            Topology::Mesh(m) => {
                let (inj, _) = self.port_links(&m, src);
                let (_, ej) = self.port_links(&m, dst);
                let (mut x, mut y) = self.router_of(&m, src);
                let (tx, ty) = self.router_of(&m, dst);
                self.path.push(inj);
                let idx = |x: u32, y: u32, d: usize| ((y * m.width + x) as usize) * 4 + d;
                while x != tx {
                    if tx > x {
                        self.path.push(idx(x, y, EAST));
                        x += 1;
                    } else {
                        self.path.push(idx(x, y, WEST));
                        x -= 1;
                    }
                }
                while y != ty {
                    if ty > y {
                        self.path.push(idx(x, y, NORTH));
                        y += 1;
                    } else {
                        self.path.push(idx(x, y, SOUTH));
                        y -= 1;
                    }
                }
                self.path.push(ej);
            }
        }
    }

    /// Moves `bytes` from `src` to `dst`, ready at `ready` ps: waits for the links on the path,
    /// reserves them and returns the timing (module docs give the rule).
    pub fn transfer(
        &mut self,
        src: Endpoint,
        dst: Endpoint,
        bytes: u64,
        ready: Ps,
    ) -> TransferTiming {
        self.route(src, dst);
        if self.path.is_empty() {
            return TransferTiming {
                start: ready,
                end: ready,
                hops: 0,
            };
        }
        let mut occupancy = 0;
        let mut start = ready;
        let mut lat = 0;
        for &l in &self.path {
            if let Some(link) = self.links.get(l) {
                occupancy = occupancy.max(link.occupancy_ps(bytes));
                start = start.max(link.free_at.saturating_sub(lat));
                lat += link.latency_ps;
            }
        }
        let mut before = 0;
        for &l in &self.path {
            if let Some(link) = self.links.get_mut(l) {
                link.free_at = start + before + occupancy;
                before += link.latency_ps;
                link.stats.busy_ps += occupancy;
                link.stats.bytes += bytes;
                link.stats.transfers += 1;
            }
        }
        TransferTiming {
            start,
            end: start + lat + occupancy,
            hops: self.path.len() as u32,
        }
    }

    /// Statistics of every link created so far, in creation order.
    pub fn link_stats(&self) -> impl Iterator<Item = LinkStats> + '_ {
        self.links.iter().map(|l| l.stats)
    }

    /// Number of links created so far.
    pub fn link_count(&self) -> usize {
        self.links.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(lat: f64, bw: f64) -> LinkConfig {
        LinkConfig {
            latency_ns: lat,
            bandwidth: Bandwidth::BytesPerNs(bw),
        }
    }

    #[test]
    fn point_to_point_single_and_same_pair_contention() {
        // Link: 2 ns latency, 4 bytes/ns. 64 bytes: occupancy 64/4 = 16 ns.
        // First: start 0, end = 0 + 2 + 16 = 18 ns; link free at 0 + 0 + 16 = 16 ns.
        let mut ic = Interconnect::new(&InterconnectConfig {
            topology: Topology::PointToPoint(link(2.0, 4.0)),
        })
        .unwrap();
        let a = ic.transfer(1, 2, 64, 0);
        assert_eq!((a.start, a.end, a.hops), (0, 18_000, 1));
        // Same pair, ready at 0: waits until 16 ns, ends 16 + 2 + 16 = 34 ns.
        let b = ic.transfer(1, 2, 64, 0);
        assert_eq!((b.start, b.end), (16_000, 34_000));
        // Another pair has its own link: no contention, 0 + 2 + 16 = 18 ns.
        let c = ic.transfer(3, 4, 64, 0);
        assert_eq!((c.start, c.end), (0, 18_000));
        // The reverse direction is a separate link too.
        assert_eq!(ic.transfer(2, 1, 64, 0).end, 18_000);
        // Local transfer: no link, ends when ready.
        assert_eq!(ic.transfer(5, 5, 1 << 20, 7).end, 7);
    }

    #[test]
    fn bus_serialises_everyone() {
        // Bus: 1 ns, 8 bytes/cycle at 0.5 GHz = 4 bytes/ns. 40 bytes -> occupancy 10 ns.
        // t1 (ready 0):  start 0,  end 0 + 1 + 10 = 11 ns, bus free at 10 ns.
        // t2 (ready 3):  start max(3, 10) = 10, end 21 ns, bus free at 20 ns.
        // t3 (ready 30): bus idle, start 30, end 41 ns.
        let cfg = InterconnectConfig {
            topology: Topology::Bus(LinkConfig {
                latency_ns: 1.0,
                bandwidth: Bandwidth::BytesPerCycle {
                    bytes: 8.0,
                    clock_ghz: 0.5,
                },
            }),
        };
        let mut ic = Interconnect::new(&cfg).unwrap();
        assert_eq!(ic.transfer(1, 2, 40, 0).end, 11_000);
        let t2 = ic.transfer(3, 4, 40, 3_000);
        assert_eq!((t2.start, t2.end), (10_000, 21_000));
        assert_eq!(ic.transfer(5, 6, 40, 30_000).end, 41_000);
        let s: Vec<_> = ic.link_stats().collect();
        assert_eq!(s[0].busy_ps, 30_000);
        assert_eq!(s[0].bytes, 120);
    }

    #[test]
    fn occupancy_rounds_up_to_whole_ps() {
        // 1 byte at 3 bytes/ns = 333.33 ps -> 334 ps; latency 0.
        let mut ic = Interconnect::new(&InterconnectConfig {
            topology: Topology::Bus(link(0.0, 3.0)),
        })
        .unwrap();
        assert_eq!(ic.transfer(0, 1, 1, 0).end, 334);
    }

    fn mesh() -> Interconnect {
        // 3 x 3 mesh; router links 1 ns, 8 bytes/ns; ports 0.5 ns, 16 bytes/ns.
        let mut ic = Interconnect::new(&InterconnectConfig {
            topology: Topology::Mesh(MeshConfig {
                width: 3,
                height: 3,
                link: link(1.0, 8.0),
                port: link(0.5, 16.0),
            }),
        })
        .unwrap();
        ic.place(10, 0, 0).unwrap(); // A
        ic.place(11, 2, 1).unwrap(); // B
        ic.place(12, 1, 0).unwrap(); // C
        ic.place(13, 2, 0).unwrap(); // D
        ic
    }

    #[test]
    fn mesh_xy_latency_adds_bandwidth_takes_max() {
        // A (0,0) -> B (2,1): inject, (0,0)->(1,0), (1,0)->(2,0) [X first], (2,0)->(2,1), eject:
        // 5 links. Latency 0.5 + 3 x 1 + 0.5 = 4 ns; occupancy = max(64/16, 64/8) = 8 ns.
        // end = 0 + 4 + 8 = 12 ns.
        let mut ic = mesh();
        let t = ic.transfer(10, 11, 64, 0);
        assert_eq!((t.start, t.end, t.hops), (0, 12_000, 5));
    }

    #[test]
    fn mesh_contention_on_a_shared_link() {
        // First A -> B as above. Its head reaches link (1,0)->(2,0) at 0.5 + 1 = 1.5 ns and
        // occupies it for 8 ns: free at 9.5 ns.
        // Then C (1,0) -> D (2,0), ready at 0: inject(C) [0.5 ns], (1,0)->(2,0) reached at 0.5 ns
        // after start, so start >= 9.5 - 0.5 = 9 ns; end = 9 + (0.5 + 1 + 0.5) + 64/8 = 19 ns.
        let mut ic = mesh();
        ic.transfer(10, 11, 64, 0);
        let t = ic.transfer(12, 13, 64, 0);
        assert_eq!((t.start, t.end, t.hops), (9_000, 19_000, 3));
    }

    #[test]
    fn mesh_routes_x_before_y() {
        // (2,2) -> (0,0) takes X links first: W, W, then S, S; a transfer on the column x = 0
        // going south must then contend with it, one along row y = 2 going west too, but one
        // on column x = 2 going south must not.
        let mut base = Interconnect::new(&InterconnectConfig {
            topology: Topology::Mesh(MeshConfig {
                width: 3,
                height: 3,
                link: link(1.0, 1.0),
                port: link(0.0, 1000.0),
            }),
        })
        .unwrap();
        base.place(1, 2, 2).unwrap();
        base.place(2, 0, 0).unwrap();
        base.place(3, 2, 2).unwrap(); // same router as 1, second endpoint
        base.place(4, 2, 0).unwrap();
        base.place(5, 0, 2).unwrap();
        base.place(6, 0, 1).unwrap();
        base.transfer(1, 2, 100, 0); // 100 bytes at 1 B/ns: 100 ns per link
                                     // 3 (2,2) -> 4 (2,0) uses (2,2)->(2,1) south: not on the XY path of 1->2.
        let mut ic = base.clone();
        assert_eq!(ic.transfer(3, 4, 1, 0).start, 0);
        // 5 (0,2) -> 6 (0,1) uses (0,2)->(0,1) south, which 1->2 reaches after 2 hops (2 ns):
        // free at 2 + 100 = 102 ns; the link is 0 ns after start, so start = 102 ns.
        let mut ic = base.clone();
        assert_eq!(ic.transfer(5, 6, 1, 0).start, 102_000);
    }

    #[test]
    fn bad_configs_rejected() {
        let bad = InterconnectConfig {
            topology: Topology::Bus(link(1.0, 0.0)),
        };
        assert!(matches!(
            Interconnect::new(&bad),
            Err(InterconnectError::InvalidConfig {
                field: "topology.Bus",
                ..
            })
        ));
        let e = InterconnectConfig::from_ron_str("(topology: Mesh((width: 0)))").unwrap_err();
        assert!(e.to_string().contains("topology.Mesh.width"), "{e}");
        let e = InterconnectConfig::from_ron_str("(topolgy: Bus(()))").unwrap_err();
        assert!(e.to_string().contains("1:"), "position expected: {e}");
        let mut ic = mesh();
        assert!(ic.place(1, 3, 0).is_err());
    }

    #[test]
    fn default_round_trips_through_ron() {
        let cfg = InterconnectConfig::default();
        let text = ron::ser::to_string_pretty(&cfg, ron::ser::PrettyConfig::default()).unwrap();
        assert_eq!(InterconnectConfig::from_ron_str(&text).unwrap(), cfg);
        assert_eq!(LinkConfig::default().bandwidth.bytes_per_ns(), 64.0);
    }
}
