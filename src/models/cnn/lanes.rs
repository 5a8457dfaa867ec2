//! Eight-lane `f32` vectors for the blocked inference convolution ([`super::blocked`]), with
//! back-ends that give identical bits: AVX2 + FMA, the same code compiled with AVX-512VL (which
//! only adds registers: 32 instead of 16, so larger register tiles fit), and portable scalar
//! code for every other CPU.
//!
//! Why bit-identical: every operation here is lane-wise and exactly rounded (`fma` is a fused
//! multiply-add with one rounding, `f32::mul_add` in the scalar back-end; `max` and `relu`
//! follow `maxps`' rule `a > b ? a : b`). An output lane therefore sees the same sequence of
//! roundings whatever the back-end, the vector width of the machine or the register tiling, so a
//! report computed on an AVX-512 workstation equals the one computed on a CI runner without it.

/// Lanes per vector, and the channel block of the blocked activation layout.
pub(crate) const LANES: usize = 8;

/// Which instruction set runs the blocked convolution; [`Backend::detect`] picks the best the
/// CPU has. All give the same bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    /// AVX2 + FMA code with AVX-512VL's 32 vector registers.
    Avx512,
    /// AVX2 + FMA, 16 vector registers.
    Avx2,
    /// Plain Rust, one lane at a time.
    Scalar,
}

impl Backend {
    /// The fastest back-end this CPU supports, or a slower one named by `RADBENCH_SIMD`
    /// (`avx2` or `scalar`, to time the fallbacks; results are identical). Decided once.
    pub(crate) fn detect() -> Backend {
        static CHOSEN: std::sync::OnceLock<Backend> = std::sync::OnceLock::new();
        *CHOSEN.get_or_init(|| {
            let best = Backend::best();
            match std::env::var("RADBENCH_SIMD").as_deref() {
                Ok("scalar") => Backend::Scalar,
                Ok("avx2") if best != Backend::Scalar => Backend::Avx2,
                _ => best,
            }
        })
    }

    /// The fastest back-end this CPU supports.
    fn best() -> Backend {
        #[cfg(target_arch = "x86_64")]
        {
            let avx2 = std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma");
            if avx2
                && std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512vl")
            {
                return Backend::Avx512;
            }
            if avx2 {
                return Backend::Avx2;
            }
        }
        Backend::Scalar
    }

    /// Every back-end this CPU can run (for the bit-identity tests).
    #[cfg(test)]
    pub(crate) fn available() -> Vec<Backend> {
        let mut out = vec![Backend::Scalar];
        match Backend::best() {
            Backend::Avx512 => out.extend([Backend::Avx2, Backend::Avx512]),
            Backend::Avx2 => out.push(Backend::Avx2),
            Backend::Scalar => {}
        }
        out
    }
}

/// An eight-lane `f32` vector. Callers guarantee that pointers are valid for 8 values and that
/// the back-end's CPU features are present (the functions are `unsafe` for that reason).
pub(crate) trait Lanes: Copy {
    /// All lanes 0.
    unsafe fn zero() -> Self;
    /// Eight values from `p` (unaligned).
    unsafe fn load(p: *const f32) -> Self;
    /// `*p` in every lane.
    unsafe fn splat(p: *const f32) -> Self;
    /// `a · b + c` with a single rounding.
    unsafe fn fma(a: Self, b: Self, c: Self) -> Self;
    /// `a + b`.
    unsafe fn add(a: Self, b: Self) -> Self;
    /// `a − b`.
    unsafe fn sub(a: Self, b: Self) -> Self;
    /// `a > b ? a : b` (so `max(NaN, b) = b`).
    unsafe fn max(a: Self, b: Self) -> Self;
    /// Eight values to `p` (unaligned).
    unsafe fn store(self, p: *mut f32);
    /// Hints that the cache line at `p` will be read soon; never faults, changes no value.
    #[inline(always)]
    fn prefetch(_p: *const f32) {}
}

/// The portable back-end.
#[derive(Clone, Copy)]
pub(crate) struct Scalar([f32; LANES]);

impl Lanes for Scalar {
    #[inline(always)]
    unsafe fn zero() -> Self {
        Scalar([0.0; LANES])
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees 8 readable values at `p`.
        Scalar(unsafe { std::ptr::read_unaligned(p as *const [f32; LANES]) })
    }
    #[inline(always)]
    unsafe fn splat(p: *const f32) -> Self {
        // SAFETY: the caller guarantees `p` is readable.
        Scalar([unsafe { *p }; LANES])
    }
    #[inline(always)]
    unsafe fn fma(a: Self, b: Self, c: Self) -> Self {
        Scalar(std::array::from_fn(|i| a.0[i].mul_add(b.0[i], c.0[i])))
    }
    #[inline(always)]
    unsafe fn add(a: Self, b: Self) -> Self {
        Scalar(std::array::from_fn(|i| a.0[i] + b.0[i]))
    }
    #[inline(always)]
    unsafe fn sub(a: Self, b: Self) -> Self {
        Scalar(std::array::from_fn(|i| a.0[i] - b.0[i]))
    }
    #[inline(always)]
    unsafe fn max(a: Self, b: Self) -> Self {
        Scalar(std::array::from_fn(|i| {
            if a.0[i] > b.0[i] { a.0[i] } else { b.0[i] }
        }))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: the caller guarantees 8 writable values at `p`.
        unsafe { std::ptr::write_unaligned(p as *mut [f32; LANES], self.0) }
    }
}

/// The AVX2 + FMA back-end (also used, with more registers, by [`Backend::Avx512`]). Its
/// functions must only be inlined into functions compiled with `avx2` and `fma`.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(crate) struct Avx(std::arch::x86_64::__m256);

#[cfg(target_arch = "x86_64")]
impl Lanes for Avx {
    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY (all below): the caller runs with AVX2 + FMA enabled and valid pointers.
        Avx(unsafe { std::arch::x86_64::_mm256_setzero_ps() })
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Avx(unsafe { std::arch::x86_64::_mm256_loadu_ps(p) })
    }
    #[inline(always)]
    unsafe fn splat(p: *const f32) -> Self {
        Avx(unsafe { std::arch::x86_64::_mm256_broadcast_ss(&*p) })
    }
    #[inline(always)]
    unsafe fn fma(a: Self, b: Self, c: Self) -> Self {
        Avx(unsafe { std::arch::x86_64::_mm256_fmadd_ps(a.0, b.0, c.0) })
    }
    #[inline(always)]
    unsafe fn add(a: Self, b: Self) -> Self {
        Avx(unsafe { std::arch::x86_64::_mm256_add_ps(a.0, b.0) })
    }
    #[inline(always)]
    unsafe fn sub(a: Self, b: Self) -> Self {
        Avx(unsafe { std::arch::x86_64::_mm256_sub_ps(a.0, b.0) })
    }
    #[inline(always)]
    unsafe fn max(a: Self, b: Self) -> Self {
        // maxps returns the second operand unless the first is greater: `a > b ? a : b`.
        Avx(unsafe { std::arch::x86_64::_mm256_max_ps(a.0, b.0) })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        unsafe { std::arch::x86_64::_mm256_storeu_ps(p, self.0) }
    }
    #[inline(always)]
    fn prefetch(p: *const f32) {
        // SAFETY: a prefetch never faults, whatever the address.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8)
        }
    }
}
