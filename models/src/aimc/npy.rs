//! Reading and writing 2-D float arrays in NumPy's `.npy` format (versions 1.0, 2.0 and 3.0).
//!
//! Reading accepts `<f4`, `>f4`, `<f8` and `>f8` (f8 is rounded to f32), C or Fortran order,
//! and 1-D (read as one row) or 2-D shapes. Writing produces version 1.0, `<f4`, C order.

use std::path::Path;

use super::error::{AimcError, Result};
use super::matrix::Matrix;

const MAGIC: &[u8; 6] = b"\x93NUMPY";

fn npy_err(path: &Path, reason: impl Into<String>) -> AimcError {
    AimcError::Npy {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// The value text of `'key':` in a `.npy` header dict, up to the next top-level comma or `}`.
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let start = header
        .find(&format!("'{key}'"))
        .or_else(|| header.find(&format!("\"{key}\"")))?;
    let rest = header.get(start + key.len() + 2..)?;
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let mut depth = 0i32;
    for (i, c) in rest.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' | '}' if depth == 0 => return rest.get(..i).map(str::trim),
            _ => {}
        }
    }
    None
}

/// The most values [`read_npy`] reads: 2^26 (64 Mi), the most `hetsim tile` generates, 4 times
/// the largest tile (4096 x 4096). As `<f8` that is 512 MiB of data.
pub const NPY_MAX_VALUES: u64 = 1 << 26;

/// The header room a `.npy` file may take besides its data: 64 KiB (NumPy itself refuses
/// headers over 10,000 bytes by default).
pub const NPY_HEADER_ROOM: u64 = 64 << 10;

/// The largest `.npy` file holding at most `values` floats: the header room plus 8 bytes a
/// value (`<f8`, the widest dtype accepted).
pub fn npy_limit(values: u64) -> u64 {
    NPY_HEADER_ROOM.saturating_add(values.saturating_mul(8))
}

/// Reads a 1-D or 2-D float array from a `.npy` file as an f32 matrix (1-D gives one row); the
/// file may be at most [`npy_limit`]`(`[`NPY_MAX_VALUES`]`)` bytes.
pub fn read_npy(path: &Path) -> Result<Matrix> {
    read_npy_limited(path, NPY_MAX_VALUES)
}

/// [`read_npy`] for a destination that holds at most `max_values` values (a kernel's input
/// symbol): a file larger than [`npy_limit`]`(max_values)` is refused, naming the file and the
/// limit, before it is read whole (endless files such as `/dev/zero` after that many bytes).
pub fn read_npy_limited(path: &Path, max_values: u64) -> Result<Matrix> {
    let limit = npy_limit(max_values);
    let what = format!("a .npy file of at most {max_values} values");
    let bytes =
        hetsim_isa::input::read_limited(path, limit, &what).map_err(|source| AimcError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    read_npy_bytes(path, &bytes)
}

/// Parses the bytes of a `.npy` file already in memory, as [`read_npy`] does; `path` only names
/// their source in error messages.
pub fn read_npy_bytes(path: &Path, bytes: &[u8]) -> Result<Matrix> {
    parse_npy(bytes).map_err(|reason| npy_err(path, reason))
}

fn parse_npy(bytes: &[u8]) -> std::result::Result<Matrix, String> {
    if bytes.get(..6) != Some(&MAGIC[..]) {
        return Err("missing the \\x93NUMPY magic string".into());
    }
    let major = *bytes.get(6).ok_or("truncated before the version")?;
    let (len, start) = match major {
        1 => {
            let b = bytes.get(8..10).ok_or("truncated header length")?;
            (usize::from(u16::from_le_bytes([b[0], b[1]])), 10)
        }
        2 | 3 => {
            let b = bytes.get(8..12).ok_or("truncated header length")?;
            (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, 12)
        }
        v => {
            return Err(format!(
                "unsupported format version {v}.x (1, 2 or 3 expected)"
            ))
        }
    };
    let header = bytes.get(start..start + len).ok_or("truncated header")?;
    let header = std::str::from_utf8(header).map_err(|_| "header is not text")?;
    let descr = dict_value(header, "descr").ok_or("header has no 'descr'")?;
    let descr = descr.trim_matches(|c| c == '\'' || c == '"');
    let (size, big) = match descr {
        "<f4" => (4, false),
        ">f4" => (4, true),
        "<f8" => (8, false),
        ">f8" => (8, true),
        other => {
            return Err(format!(
                "dtype {other:?} is not a float array (<f4 or <f8 expected)"
            ))
        }
    };
    let fortran =
        match dict_value(header, "fortran_order").ok_or("header has no 'fortran_order'")? {
            "False" => false,
            "True" => true,
            other => return Err(format!("fortran_order {other:?} is not True or False")),
        };
    let shape = dict_value(header, "shape").ok_or("header has no 'shape'")?;
    let dims: Vec<usize> = shape
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| format!("shape {shape} is not a tuple of sizes"))
        })
        .collect::<std::result::Result<_, _>>()?;
    let (rows, cols) = match dims.as_slice() {
        [n] => (1, *n),
        [r, c] => (*r, *c),
        _ => {
            return Err(format!(
                "shape {shape} has {} dimensions (1 or 2 expected)",
                dims.len()
            ))
        }
    };
    let n = rows.checked_mul(cols).ok_or("shape too large")?;
    let need = n.checked_mul(size).ok_or("shape too large")?;
    let data = bytes.get(start + len..).unwrap_or(&[]);
    if data.len() != need {
        return Err(format!(
            "shape {shape} of {descr} needs {need} data bytes, the file has {}",
            data.len()
        ));
    }
    let values: Vec<f32> = match size {
        4 => data
            .chunks_exact(4)
            .map(|c| {
                let b = [c[0], c[1], c[2], c[3]];
                if big {
                    f32::from_be_bytes(b)
                } else {
                    f32::from_le_bytes(b)
                }
            })
            .collect(),
        _ => data
            .chunks_exact(8)
            .map(|c| {
                let b = [c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]];
                (if big {
                    f64::from_be_bytes(b)
                } else {
                    f64::from_le_bytes(b)
                }) as f32
            })
            .collect(),
    };
    // With one column (or none) both orders store the same sequence. Testing `cols > 1` also
    // keeps an empty array of shape (2^64 - 1, 0) from looping over its rows (a hang in
    // unoptimised builds, found while writing the fuzz harness; docs/robustness.md).
    let m = if fortran && rows > 1 && cols > 1 {
        // Column-major storage: element (r, c) at c * rows + r.
        Matrix::from_fn(rows, cols, |r, c| {
            values.get(c * rows + r).copied().unwrap_or(0.0)
        })
    } else {
        Matrix::new(rows, cols, values).map_err(|e| e.to_string())?
    };
    Ok(m)
}

/// Writes `m` as a 2-D `<f4` C-order `.npy` file (format version 1.0).
pub fn write_npy(path: &Path, m: &Matrix) -> Result<()> {
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}), }}",
        m.rows(),
        m.cols()
    );
    // Pad so that magic (6) + version (2) + length (2) + header ends on a 64-byte boundary,
    // the header ending in '\n'.
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + 4 * m.as_slice().len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    let len = u16::try_from(header.len()).map_err(|_| npy_err(path, "header too long"))?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in m.as_slice() {
        out.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, out).map_err(|source| AimcError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("hetsim-npy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    /// A file as NumPy writes it (header built by hand, version and dtype as given).
    fn numpy_like(version: u8, descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
        let fo = if fortran { "True" } else { "False" };
        let mut h = format!("{{'descr': '{descr}', 'fortran_order': {fo}, 'shape': {shape}, }}");
        h.push('\n');
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[version, 0]);
        if version == 1 {
            out.extend_from_slice(&(h.len() as u16).to_le_bytes());
        } else {
            out.extend_from_slice(&(h.len() as u32).to_le_bytes());
        }
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn round_trip_and_numpy_variants() {
        let m = Matrix::from_fn(3, 5, |r, c| r as f32 - 0.5 * c as f32);
        let p = tmp("m.npy");
        write_npy(&p, &m).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!((bytes.len() - 4 * 15) % 64, 0, "header aligned to 64 bytes");
        assert_eq!(read_npy(&p).unwrap(), m);
        // f8, version 2, Fortran order: [[1, 2], [3, 4]] stored column-major as 1, 3, 2, 4.
        let data: Vec<u8> = [1.0f64, 3.0, 2.0, 4.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let m = parse_npy(&numpy_like(2, "<f8", true, "(2, 2)", &data)).unwrap();
        assert_eq!(m.as_slice(), &[1.0, 2.0, 3.0, 4.0]);
        // 1-D becomes one row; big-endian f4.
        let data: Vec<u8> = [1.5f32, -2.0]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        let m = parse_npy(&numpy_like(1, ">f4", false, "(2,)", &data)).unwrap();
        assert_eq!(
            (m.rows(), m.cols(), m.as_slice()),
            (1, 2, &[1.5f32, -2.0][..])
        );
    }

    /// Robustness (docs/robustness.md): `/dev/zero` as a `.npy` file is refused after
    /// `npy_limit + 1` bytes, naming the file and the limit; a file of exactly the limit (the
    /// header padded to the whole header room) is read; one byte more is refused.
    #[test]
    fn files_are_read_up_to_the_limit() {
        let e = read_npy_limited(Path::new("/dev/zero"), 16)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "/dev/zero: larger than the 65664 bytes hetsim reads as a .npy file of at most 16 values"
        );
        let t = std::time::Instant::now();
        let e = read_npy(Path::new("/dev/zero")).unwrap_err().to_string();
        assert!(
            e.contains("larger than the 524352 KiB (536936448 bytes)"),
            "{e}"
        );
        assert!(t.elapsed() < std::time::Duration::from_secs(20));
        let data: Vec<u8> = [1.0f64, 2.0, 3.0, 4.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let mut bytes = numpy_like(1, "<f8", false, "(4,)", &data);
        let pad = (npy_limit(4) as usize) - bytes.len();
        let h_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize + pad;
        bytes[8..10].copy_from_slice(&(h_len as u16).to_le_bytes());
        // Spaces before the header's closing newline.
        let nl = 10 + h_len - pad - 1;
        bytes.splice(nl..nl, std::iter::repeat_n(b' ', pad));
        assert_eq!(bytes.len() as u64, npy_limit(4));
        let p = tmp("limit.npy");
        std::fs::write(&p, &bytes).unwrap();
        assert_eq!(
            read_npy_limited(&p, 4).unwrap().as_slice(),
            &[1.0, 2.0, 3.0, 4.0]
        );
        let e = read_npy_limited(&p, 3).unwrap_err().to_string();
        assert!(e.ends_with(": 65568 bytes, more than the 65560 bytes hetsim reads as a .npy file of at most 3 values"), "{e}");
    }

    #[test]
    fn malformed_files_are_explained() {
        let four: Vec<u8> = [1.0f32; 4].iter().flat_map(|v| v.to_le_bytes()).collect();
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"PK\x03\x04".to_vec(), "magic"),
            (
                numpy_like(1, "<i4", false, "(2, 2)", &four),
                "not a float array",
            ),
            (
                numpy_like(1, "<f4", false, "(2, 2, 1)", &four),
                "3 dimensions",
            ),
            (
                numpy_like(1, "<f4", false, "(2, 3)", &four),
                "needs 24 data bytes",
            ),
            (numpy_like(9, "<f4", false, "(2, 2)", &four), "version 9"),
            (MAGIC.to_vec(), "truncated"),
        ];
        for (bytes, want) in cases {
            let e = parse_npy(&bytes).unwrap_err();
            assert!(e.contains(want), "{e} should mention {want}");
        }
        let e = read_npy(Path::new("/nonexistent/w.npy"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/w.npy"), "{e}");
        let p = tmp("bad.npy");
        std::fs::write(&p, b"hello").unwrap();
        let e = read_npy(&p).unwrap_err().to_string();
        assert!(e.contains("bad.npy") && e.contains("magic"), "{e}");
    }

    /// Robustness regression (docs/robustness.md): an empty Fortran-order array with 2^64 - 1
    /// rows is read at once; it used to loop over every row (forever, in a debug build) before
    /// noticing there was nothing to copy.
    #[test]
    fn empty_fortran_array_with_huge_shape_is_read_at_once() {
        let m = parse_npy(&numpy_like(
            1,
            "<f4",
            true,
            "(18446744073709551615, 0)",
            &[],
        ))
        .unwrap();
        assert_eq!((m.rows(), m.cols(), m.as_slice().len()), (usize::MAX, 0, 0));
    }
}
