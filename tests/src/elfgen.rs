//! A minimal ELF32 writer: one RWX PT_LOAD segment and an entry point, enough for a static
//! RISC-V executable that both `qemu-riscv32` (Linux user mode) and hetsim load.

/// e_flags: single-precision float ABI, no compressed instructions.
const EF_RISCV_FLOAT_ABI_SINGLE: u32 = 0x2;

/// Builds an ELF32 little-endian RISC-V executable that loads `image` at `base` (which must be
/// 4 KiB aligned, and at least 0x2000), entered at `entry`. The one segment starts at file
/// offset 0 so that it also maps the ELF and program headers (at `base - 0x1000`), as linkers
/// do; QEMU's user-mode loader rejects images whose headers are not mapped.
pub fn executable(base: u32, entry: u32, image: &[u8]) -> Vec<u8> {
    const EHSIZE: u16 = 52;
    const PHENTSIZE: u16 = 32;
    const OFFSET: u32 = 0x1000; // segment file offset: congruent with base modulo the page
    assert!(
        base % 0x1000 == 0 && base >= 0x2000,
        "segment base must be page aligned"
    );
    let mut out = Vec::with_capacity(OFFSET as usize + image.len());
    // e_ident
    out.extend_from_slice(b"\x7fELF");
    out.extend_from_slice(&[1, 1, 1, 0]); // ELFCLASS32, ELFDATA2LSB, EV_CURRENT, SYSV ABI
    out.extend_from_slice(&[0; 8]);
    let h16 = |o: &mut Vec<u8>, v: u16| o.extend_from_slice(&v.to_le_bytes());
    let h32 = |o: &mut Vec<u8>, v: u32| o.extend_from_slice(&v.to_le_bytes());
    h16(&mut out, 2); // ET_EXEC
    h16(&mut out, 243); // EM_RISCV
    h32(&mut out, 1); // EV_CURRENT
    h32(&mut out, entry);
    h32(&mut out, u32::from(EHSIZE)); // e_phoff
    h32(&mut out, 0); // e_shoff
    h32(&mut out, EF_RISCV_FLOAT_ABI_SINGLE);
    h16(&mut out, EHSIZE);
    h16(&mut out, PHENTSIZE);
    h16(&mut out, 1); // e_phnum
    h16(&mut out, 40); // e_shentsize
    h16(&mut out, 0); // e_shnum
    h16(&mut out, 0); // e_shstrndx
                      // program header
    let size = OFFSET + image.len() as u32;
    h32(&mut out, 1); // PT_LOAD
    h32(&mut out, 0); // p_offset
    h32(&mut out, base - OFFSET); // p_vaddr
    h32(&mut out, base - OFFSET); // p_paddr
    h32(&mut out, size); // p_filesz
    h32(&mut out, size); // p_memsz
    h32(&mut out, 7); // PF_R | PF_W | PF_X
    h32(&mut out, 0x1000); // p_align
    out.resize(OFFSET as usize, 0);
    out.extend_from_slice(image);
    out
}
