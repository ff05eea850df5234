//! A tiny RV32IMF assembler: encoders for the base instruction formats and the mnemonics
//! tests and tools need, so programs can be written in Rust without a cross toolchain.
//! Register arguments are numbers (x0-x31 / f0-f31); immediates are byte offsets.

/// R-type: funct7, rs2, rs1, funct3, rd, opcode.
pub fn r(f7: u32, rs2: u32, rs1: u32, f3: u32, rd: u32, op: u32) -> u32 {
    (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op
}

/// R4-type (fused multiply-add): rs3, rs2, rs1, rm, rd, opcode (fmt = S).
pub fn r4(rs3: u32, rs2: u32, rs1: u32, rm: u32, rd: u32, op: u32) -> u32 {
    (rs3 << 27) | r(0, rs2, rs1, rm, rd, op)
}

/// I-type: `imm[11:0]`, rs1, funct3, rd, opcode.
pub fn i(imm: i32, rs1: u32, f3: u32, rd: u32, op: u32) -> u32 {
    (((imm as u32) & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op
}

/// S-type: `imm[11:0]`, rs2, rs1, funct3, opcode.
pub fn s(imm: i32, rs2: u32, rs1: u32, f3: u32, op: u32) -> u32 {
    let imm = imm as u32;
    (((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 0x1f) << 7) | op
}

/// B-type (conditional branch) with byte offset `imm`.
pub fn b(imm: i32, rs2: u32, rs1: u32, f3: u32) -> u32 {
    let imm = imm as u32;
    (((imm >> 12) & 1) << 31)
        | (((imm >> 5) & 0x3f) << 25)
        | (rs2 << 20)
        | (rs1 << 15)
        | (f3 << 12)
        | (((imm >> 1) & 0xf) << 8)
        | (((imm >> 11) & 1) << 7)
        | 0x63
}

/// jal rd, offset.
pub fn jal(rd: u32, imm: i32) -> u32 {
    let imm = imm as u32;
    (((imm >> 20) & 1) << 31)
        | (((imm >> 1) & 0x3ff) << 21)
        | (((imm >> 11) & 1) << 20)
        | (((imm >> 12) & 0xff) << 12)
        | (rd << 7)
        | 0x6f
}

/// lui rd, imm20.
pub fn lui(rd: u32, imm20: u32) -> u32 {
    (imm20 << 12) | (rd << 7) | 0x37
}

/// addi rd, rs1, imm.
pub fn addi(rd: u32, rs1: u32, imm: i32) -> u32 {
    i(imm, rs1, 0, rd, 0x13)
}

/// add rd, rs1, rs2.
pub fn add(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r(0, rs2, rs1, 0, rd, 0x33)
}

/// mul rd, rs1, rs2.
pub fn mul(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r(1, rs2, rs1, 0, rd, 0x33)
}

/// div rd, rs1, rs2.
pub fn div(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r(1, rs2, rs1, 4, rd, 0x33)
}

/// lw rd, imm(rs1).
pub fn lw(rd: u32, rs1: u32, imm: i32) -> u32 {
    i(imm, rs1, 2, rd, 0x03)
}

/// sw rs2, imm(rs1).
pub fn sw(rs2: u32, rs1: u32, imm: i32) -> u32 {
    s(imm, rs2, rs1, 2, 0x23)
}

/// flw fd, imm(rs1).
pub fn flw(fd: u32, rs1: u32, imm: i32) -> u32 {
    i(imm, rs1, 2, fd, 0x07)
}

/// fsw fs2, imm(rs1).
pub fn fsw(fs2: u32, rs1: u32, imm: i32) -> u32 {
    s(imm, fs2, rs1, 2, 0x27)
}

/// fmadd.s fd, fs1, fs2, fs3 (dynamic rounding).
pub fn fmadd(fd: u32, fs1: u32, fs2: u32, fs3: u32) -> u32 {
    r4(fs3, fs2, fs1, 7, fd, 0x43)
}

/// fadd.s fd, fs1, fs2 (dynamic rounding).
pub fn fadd(fd: u32, fs1: u32, fs2: u32) -> u32 {
    r(0x00, fs2, fs1, 7, fd, 0x53)
}

/// fdiv.s fd, fs1, fs2 (dynamic rounding).
pub fn fdiv(fd: u32, fs1: u32, fs2: u32) -> u32 {
    r(0x0c, fs2, fs1, 7, fd, 0x53)
}

/// fmv.x.w rd, fs1.
pub fn fmv_x_w(rd: u32, fs1: u32) -> u32 {
    r(0x70, 0, fs1, 0, rd, 0x53)
}

/// bne rs1, rs2, offset.
pub fn bne(rs1: u32, rs2: u32, imm: i32) -> u32 {
    b(imm, rs2, rs1, 1)
}

/// beq rs1, rs2, offset.
pub fn beq(rs1: u32, rs2: u32, imm: i32) -> u32 {
    b(imm, rs2, rs1, 0)
}

/// csrrw rd, csr, rs1.
pub fn csrrw(rd: u32, csr: u32, rs1: u32) -> u32 {
    i(csr as i32, rs1, 1, rd, 0x73)
}

/// csrrs rd, csr, rs1 (csrr rd, csr with rs1 = 0).
pub fn csrrs(rd: u32, csr: u32, rs1: u32) -> u32 {
    i(csr as i32, rs1, 2, rd, 0x73)
}

/// csrrsi rd, csr, zimm (`csrsi csr, zimm` with rd = 0).
pub fn csrrsi(rd: u32, csr: u32, zimm: u32) -> u32 {
    i(csr as i32, zimm, 6, rd, 0x73)
}

/// csrrci rd, csr, zimm (`csrci csr, zimm` with rd = 0).
pub fn csrrci(rd: u32, csr: u32, zimm: u32) -> u32 {
    i(csr as i32, zimm, 7, rd, 0x73)
}

/// fmul.s fd, fs1, fs2 (dynamic rounding).
pub fn fmul(fd: u32, fs1: u32, fs2: u32) -> u32 {
    r(0x08, fs2, fs1, 7, fd, 0x53)
}

/// `li rd, value` as lui + addi (always two instructions).
pub fn li(rd: u32, value: u32) -> [u32; 2] {
    let lo = ((value & 0xfff) as i32) << 20 >> 20;
    let hi = value.wrapping_sub(lo as u32) >> 12;
    [lui(rd, hi), addi(rd, rd, lo)]
}

/// Replaces the rounding-mode field (bits 14:12) of an FP instruction word: `with_rm(fadd_h(1,
/// 2, 3), 1)` is `fadd.h f1, f2, f3, rtz`. The helpers below use the dynamic mode (7).
pub fn with_rm(word: u32, rm: u32) -> u32 {
    (word & !(7 << 12)) | ((rm & 7) << 12)
}

// ---- Zfh (fmt = 10 in bits 26:25) ----

/// flh fd, imm(rs1).
pub fn flh(fd: u32, rs1: u32, imm: i32) -> u32 {
    i(imm, rs1, 1, fd, 0x07)
}

/// fsh fs2, imm(rs1).
pub fn fsh(fs2: u32, rs1: u32, imm: i32) -> u32 {
    s(imm, fs2, rs1, 1, 0x27)
}

/// An OP-FP instruction with fmt = H: funct5, rs2, rs1, funct3 / rm, rd.
pub fn op_h(funct5: u32, rs2: u32, rs1: u32, f3: u32, rd: u32) -> u32 {
    r((funct5 << 2) | 2, rs2, rs1, f3, rd, 0x53)
}

macro_rules! r4_h {
    ($($name:ident, $mn:literal, $opc:literal;)*) => {$(
        #[doc = concat!("`", $mn, " fd, fs1, fs2, fs3` (dynamic rounding).")]
        pub fn $name(fd: u32, fs1: u32, fs2: u32, fs3: u32) -> u32 {
            r4(fs3, fs2, fs1, 7, fd, $opc) | (2 << 25)
        }
    )*};
}

r4_h! {
    fmadd_h, "fmadd.h", 0x43;
    fmsub_h, "fmsub.h", 0x47;
    fnmsub_h, "fnmsub.h", 0x4b;
    fnmadd_h, "fnmadd.h", 0x4f;
}

macro_rules! f3_h {
    ($($name:ident, $mn:literal, $funct5:literal, $f3:literal;)*) => {$(
        #[doc = concat!("`", $mn, " fd, fs1, fs2`.")]
        pub fn $name(fd: u32, fs1: u32, fs2: u32) -> u32 {
            op_h($funct5, fs2, fs1, $f3, fd)
        }
    )*};
}

f3_h! {
    fadd_h, "fadd.h (dynamic rounding)", 0x00, 7;
    fsub_h, "fsub.h (dynamic rounding)", 0x01, 7;
    fmul_h, "fmul.h (dynamic rounding)", 0x02, 7;
    fdiv_h, "fdiv.h (dynamic rounding)", 0x03, 7;
    fsgnj_h, "fsgnj.h", 0x04, 0;
    fsgnjn_h, "fsgnjn.h", 0x04, 1;
    fsgnjx_h, "fsgnjx.h", 0x04, 2;
    fmin_h, "fmin.h", 0x05, 0;
    fmax_h, "fmax.h", 0x05, 1;
    feq_h, "feq.h (rd is an integer register)", 0x14, 2;
    flt_h, "flt.h (rd is an integer register)", 0x14, 1;
    fle_h, "fle.h (rd is an integer register)", 0x14, 0;
}

macro_rules! f2_h {
    ($($name:ident, $mn:literal, $funct5:literal, $rs2:literal, $f3:literal;)*) => {$(
        #[doc = concat!("`", $mn, "`.")]
        pub fn $name(rd: u32, rs1: u32) -> u32 {
            op_h($funct5, $rs2, rs1, $f3, rd)
        }
    )*};
}

f2_h! {
    fsqrt_h, "fsqrt.h fd, fs1 (dynamic rounding)", 0x0b, 0, 7;
    fcvt_w_h, "fcvt.w.h rd, fs1 (dynamic rounding)", 0x18, 0, 7;
    fcvt_wu_h, "fcvt.wu.h rd, fs1 (dynamic rounding)", 0x18, 1, 7;
    fcvt_h_w, "fcvt.h.w fd, rs1 (dynamic rounding)", 0x1a, 0, 7;
    fcvt_h_wu, "fcvt.h.wu fd, rs1 (dynamic rounding)", 0x1a, 1, 7;
    fcvt_h_s, "fcvt.h.s fd, fs1 (dynamic rounding)", 0x08, 0, 7;
    fclass_h, "fclass.h rd, fs1", 0x1c, 0, 1;
    fmv_x_h, "fmv.x.h rd, fs1", 0x1c, 0, 0;
    fmv_h_x, "fmv.h.x fd, rs1", 0x1e, 0, 0;
}

/// fcvt.s.h fd, fs1 (exact; rm = 0 as LLVM encodes it).
pub fn fcvt_s_h(fd: u32, fs1: u32) -> u32 {
    r(0x20, 2, fs1, 0, fd, 0x53)
}

// ---- Xfvec packed fp16 (opcode OP, bits 31:30 = 10; Snitch riscv_instr.sv) ----

macro_rules! vf3 {
    ($($name:ident, $mn:literal, $funct7:literal, $f3:literal;)*) => {$(
        #[doc = concat!("`", $mn, " fd, fs1, fs2`.")]
        pub fn $name(fd: u32, fs1: u32, fs2: u32) -> u32 {
            r($funct7, fs2, fs1, $f3, fd, 0x33)
        }
    )*};
}

vf3! {
    vfadd_h, "vfadd.h", 0x41, 2;
    vfadd_r_h, "vfadd.r.h", 0x41, 6;
    vfsub_h, "vfsub.h", 0x42, 2;
    vfsub_r_h, "vfsub.r.h", 0x42, 6;
    vfmul_h, "vfmul.h", 0x43, 2;
    vfmul_r_h, "vfmul.r.h", 0x43, 6;
    vfmac_h, "vfmac.h (fd is also read)", 0x48, 2;
    vfmac_r_h, "vfmac.r.h (fd is also read)", 0x48, 6;
    vfmin_h, "vfmin.h", 0x45, 2;
    vfmin_r_h, "vfmin.r.h", 0x45, 6;
    vfmax_h, "vfmax.h", 0x46, 2;
    vfmax_r_h, "vfmax.r.h", 0x46, 6;
    vfcpka_h_s, "vfcpka.h.s", 0x58, 2;
    vfdotpex_s_h, "vfdotpex.s.h (fd is also read)", 0x4b, 0;
}

/// vfcvt.s.h fd, fs1: lane 0 (bits 15:0) of fs1 to fp32.
pub fn vfcvt_s_h(fd: u32, fs1: u32) -> u32 {
    r(0x4c, 0b00110, fs1, 0, fd, 0x33)
}

/// vfcvtu.s.h fd, fs1: lane 1 (bits 31:16) of fs1 to fp32.
pub fn vfcvtu_s_h(fd: u32, fs1: u32) -> u32 {
    r(0x4c, 0b00110, fs1, 4, fd, 0x33)
}

/// vfsumex.s.h fd, fs1: fd (fp32) += lane 0 + lane 1 of fs1.
pub fn vfsumex_s_h(fd: u32, fs1: u32) -> u32 {
    r(0x47, 0b10110, fs1, 0, fd, 0x33)
}

/// Xdma `dmsrc rs1, rs2` (source = rs1; rs2 holds the upper address bits, 0 on RV32).
pub fn dmsrc(rs1: u32, rs2: u32) -> u32 {
    r(0, rs2, rs1, 0, 0, 0x2b)
}

/// Xdma `dmdst rs1, rs2`.
pub fn dmdst(rs1: u32, rs2: u32) -> u32 {
    r(1, rs2, rs1, 0, 0, 0x2b)
}

/// Xdma `dmcpyi rd, rs1, config`: start a transfer of rs1 bytes; rd = its id.
pub fn dmcpyi(rd: u32, rs1: u32, config: u32) -> u32 {
    r(2, config, rs1, 0, rd, 0x2b)
}

/// Xdma `dmcpy rd, rs1, rs2` (config from rs2).
pub fn dmcpy(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r(3, rs2, rs1, 0, rd, 0x2b)
}

/// Xdma `dmstati rd, which` (0 done id, 1 next id, 2 busy, 3 would block).
pub fn dmstati(rd: u32, which: u32) -> u32 {
    r(4, which, 0, 0, rd, 0x2b)
}

/// Xdma `dmstr rs1, rs2`: source and destination strides.
pub fn dmstr(rs1: u32, rs2: u32) -> u32 {
    r(6, rs2, rs1, 0, 0, 0x2b)
}

/// Xdma `dmrep rs1`: rows of a 2-D transfer.
pub fn dmrep(rs1: u32) -> u32 {
    r(7, 0, rs1, 0, 0, 0x2b)
}

/// Xfrep `frep.o rs1, n_inst, stagger_max, stagger_mask` (SC main encoding: imm12 = n_inst - 1).
pub fn frep_o(rs1: u32, n_inst: u32, stagger_max: u32, stagger_mask: u32) -> u32 {
    ((n_inst - 1) << 20) | (rs1 << 15) | (stagger_max << 12) | (stagger_mask << 8) | 0x8b
}

/// Xssr `scfgri rd, addr` (addr = reg << 5 | stream).
pub fn scfgri(rd: u32, addr: u32) -> u32 {
    i(addr as i32, 0, 1, rd, 0x2b)
}

/// Xssr `scfgwi rs1, addr`: writes rs1 to configuration word `addr`.
pub fn scfgwi(rs1: u32, addr: u32) -> u32 {
    i(addr as i32, rs1, 2, 0, 0x2b)
}

/// Xssr `scfgr rd, rs2`: reads the configuration word whose address is in rs2.
pub fn scfgr(rd: u32, rs2: u32) -> u32 {
    r(0, rs2, 1, 1, rd, 0x2b)
}

/// Xssr `scfgw rs1, rs2`: writes rs1 to the configuration word whose address is in rs2.
pub fn scfgw(rs1: u32, rs2: u32) -> u32 {
    r(0, rs2, rs1, 2, 1, 0x2b)
}

/// ecall.
pub const ECALL: u32 = 0x0000_0073;
/// ebreak.
pub const EBREAK: u32 = 0x0010_0073;
/// mret.
pub const MRET: u32 = 0x3020_0073;
/// wfi.
pub const WFI: u32 = 0x1050_0073;
/// fence.i.
pub const FENCE_I: u32 = 0x0000_100f;
/// nop (addi x0, x0, 0).
pub const NOP: u32 = 0x0000_0013;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode, Op};

    #[test]
    fn xdma_encodings_match_the_reference_sheet() {
        use crate::decode::decode_with;
        use crate::ext::Extensions;
        // match/mask values of snitch-extensions.md section 4.6 (SC riscv_instr.sv)
        let cases = [
            (dmsrc(5, 0), 0x0000_002b, 0xfe00_7fff, Op::DmSrc),
            (dmdst(5, 0), 0x0200_002b, 0xfe00_7fff, Op::DmDst),
            (dmcpyi(10, 5, 2), 0x0400_002b, 0xfe00_707f, Op::DmCpyi),
            (dmcpy(10, 5, 6), 0x0600_002b, 0xfe00_707f, Op::DmCpy),
            (dmstati(10, 2), 0x0800_002b, 0xfe0f_f07f, Op::DmStati),
            (dmstr(5, 6), 0x0c00_002b, 0xfe00_7fff, Op::DmStr),
            (dmrep(5), 0x0e00_002b, 0xfff0_7fff, Op::DmRep),
        ];
        let ext = Extensions {
            xdma: true,
            xfrep: false,
            ..Extensions::NONE
        };
        for (word, matches, mask, op) in cases {
            assert_eq!(word & mask, matches, "{op:?}: {word:#010x}");
            assert_eq!(decode_with(word, ext).op, op, "{word:#010x}");
            // Without the extension every one is illegal.
            assert_eq!(decode(word).op, Op::Illegal);
        }
        // dmcpyi a0, t0, 2: config (2-D) in the rs2 field
        let i = decode_with(dmcpyi(10, 5, 2), ext);
        assert_eq!((i.rd, i.rs1, i.rs2), (10, 5, 2));
        // dmsrc with rd != 0 is not an Xdma encoding
        assert_eq!(decode_with(dmsrc(5, 0) | (1 << 7), ext).op, Op::Illegal);
    }

    #[test]
    fn frep_encoding_matches_the_reference_sheet() {
        use crate::decode::decode_with;
        use crate::ext::Extensions;
        // snitch-extensions.md 1.1: "8-instruction body, rs1 = t0: main encodes 0x0072808B".
        assert_eq!(frep_o(5, 8, 0, 0), 0x0072_808b);
        let ext = Extensions {
            xfrep: true,
            ..Extensions::NONE
        };
        let i = decode_with(frep_o(5, 3, 2, 0b0101), ext);
        assert_eq!(
            (i.op, i.rs1, i.imm, i.rm, i.rs3),
            (Op::FrepO, 5, 2, 2, 0b0101)
        );
        assert_eq!(decode(frep_o(5, 3, 2, 0b0101)).op, Op::Illegal);
    }

    #[test]
    fn ssr_encodings_match_the_reference_sheet() {
        use crate::decode::decode_with;
        use crate::ext::Extensions;
        // match/mask of snitch-extensions.md section 2.2 (SC riscv_instr.sv), and the worked
        // example "scfgwi a1, 64 = 0x0405A02B".
        assert_eq!(scfgwi(11, 64), 0x0405_a02b);
        let cases = [
            (scfgri(10, 0x123), 0x0000_102b, 0x000f_f07f, Op::ScfgRi),
            (scfgwi(11, 0x7ff), 0x0000_202b, 0x0000_7fff, Op::ScfgWi),
            (scfgr(10, 12), 0x0000_902b, 0xfe0f_f07f, Op::ScfgR),
            (scfgw(11, 12), 0x0000_20ab, 0xfe00_7fff, Op::ScfgW),
        ];
        let ext = Extensions {
            xssr: true,
            xdma: true,
            ..Extensions::NONE
        };
        for (word, matches, mask, op) in cases {
            assert_eq!(word & mask, matches, "{op:?}: {word:#010x}");
            assert_eq!(decode_with(word, ext).op, op, "{word:#010x}");
            assert_eq!(decode(word).op, Op::Illegal);
        }
        let i = decode_with(scfgwi(11, 768), ext);
        assert_eq!((i.rs1, i.imm), (11, 768));
        let i = decode_with(scfgri(10, 0x7ff), ext);
        assert_eq!((i.rd, i.imm), (10, 0x7ff), "the address is unsigned");
        // Xdma shares the opcode (funct3 000) and stays distinct.
        assert_eq!(decode_with(dmsrc(5, 0), ext).op, Op::DmSrc);
        // scfgw with funct7 != 0 is not an encoding.
        assert_eq!(decode_with(scfgw(11, 12) | (1 << 25), ext).op, Op::Illegal);
    }

    #[test]
    fn encodings_round_trip_through_the_decoder() {
        let d = decode(addi(10, 11, -5));
        assert_eq!((d.op, d.rd, d.rs1, d.imm), (Op::Addi, 10, 11, -5));
        let d = decode(sw(5, 2, -12));
        assert_eq!((d.op, d.rs2, d.rs1, d.imm), (Op::Sw, 5, 2, -12));
        let d = decode(bne(1, 2, -16));
        assert_eq!((d.op, d.imm), (Op::Bne, -16));
        let d = decode(jal(1, 2044));
        assert_eq!((d.op, d.rd, d.imm), (Op::Jal, 1, 2044));
        let d = decode(fmadd(1, 2, 3, 4));
        assert_eq!((d.op, d.rd, d.rs1, d.rs2, d.rs3), (Op::FmaddS, 1, 2, 3, 4));
        for v in [0u32, 0x7ff, 0x800, 0x1234_5678, 0xffff_f800, 0xdead_beef] {
            let [hi, lo] = li(5, v);
            let (h, l) = (decode(hi), decode(lo));
            assert_eq!((h.imm as u32).wrapping_add(l.imm as u32), v, "{v:#x}");
        }
    }
}
