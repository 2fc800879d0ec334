//! Peak stack use by painting: fill the unused stack with [`PAINT`], run, then find the lowest
//! word that is no longer the pattern.
//!
//! The stack grows down from `_stack_start` (the top of RAM) towards `_stack_end` (the end of
//! `.bss`/`.uninit`), both defined by cortex-m-rt's `link.x`. A frame that reserves space it
//! never writes is not seen (the usual limit of the method), so the figure is a lower bound on
//! reserved stack and exact for stack actually touched.

use core::ptr;

/// The paint word.
pub const PAINT: u32 = 0xCAFE_BABE;

/// Bytes left unpainted just below the stack pointer of the caller of [`paint`], for
/// [`paint`]'s own frame.
const GUARD: usize = 256;

extern "C" {
    static _stack_start: u32;
    static _stack_end: u32;
}

fn stack_start() -> usize {
    ptr::addr_of!(_stack_start) as usize
}

fn stack_end() -> usize {
    ptr::addr_of!(_stack_end) as usize
}

/// A painted stack: from `_stack_end` up to `top` (exclusive), a little below the stack pointer
/// the caller had when it called [`paint`].
#[derive(Clone, Copy, Debug)]
pub struct Painted {
    top: usize,
}

/// Paints every free stack word from `_stack_end` up to [`GUARD`] bytes below the current
/// stack pointer. Call it from the function whose callees you measure: their frames all lie
/// below the caller's, in the painted area.
#[inline(never)]
pub fn paint() -> Painted {
    let sp = cortex_m::register::msp::read() as usize;
    let top = (sp - GUARD) & !3;
    let mut p = stack_end();
    while p < top {
        // SAFETY: below the live stack and above every static: memory nothing else uses.
        unsafe { ptr::write_volatile(p as *mut u32, PAINT) };
        p += 4;
    }
    Painted { top }
}

impl Painted {
    /// The lowest stack address written since [`paint`] (`top` if none).
    pub fn lowest_written(&self) -> usize {
        let mut p = stack_end();
        while p < self.top {
            // SAFETY: the painted area, which is plain RAM.
            if unsafe { ptr::read_volatile(p as *const u32) } != PAINT {
                return p;
            }
            p += 4;
        }
        self.top
    }

    /// Peak stack use since [`paint`], in bytes below the painting caller's frame (what the
    /// calls made since then used, including [`GUARD`]'s worth of the caller's own area).
    pub fn used_below_caller(&self) -> usize {
        self.top + GUARD - self.lowest_written()
    }

    /// Peak stack depth since [`paint`], in bytes from the top of the stack (`_stack_start`):
    /// everything from reset, `main`'s frame included.
    pub fn peak_depth(&self) -> usize {
        stack_start() - self.lowest_written()
    }

    /// Bytes that were available to the stack when painted (`_stack_start - _stack_end`).
    pub fn capacity() -> usize {
        stack_start() - stack_end()
    }
}
