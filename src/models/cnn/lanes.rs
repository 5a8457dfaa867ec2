//! Eight-lane `f32` vectors for the blocked inference convolution ([`super::blocked`]), with
//! back-ends that give identical bits: AVX2 + FMA; AVX-512, whose convolution tiles hold two
//! channel blocks per 16-lane register ([`Zmm`]) and whose other kernels are the AVX2 code with
//! 32 registers instead of 16; and portable scalar code for every other CPU.
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
    /// AVX-512: 16-lane convolution tiles ([`Zmm`]), elsewhere AVX2 + FMA code with
    /// AVX-512VL's 32 vector registers.
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

/// An `f32` vector of [`Lanes::BLOCKS`] channel blocks of eight lanes (one block, except
/// [`Zmm`]). Callers guarantee that pointers are valid for `8 · BLOCKS` values and that the
/// back-end's CPU features are present (the functions are `unsafe` for that reason).
pub(crate) trait Lanes: Copy {
    /// Eight-lane channel blocks per vector.
    const BLOCKS: usize = 1;
    /// All lanes 0.
    unsafe fn zero() -> Self;
    /// `8 · BLOCKS` consecutive values from `p` (unaligned).
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
    /// `8 · BLOCKS` values to `p` (unaligned).
    unsafe fn store(self, p: *mut f32);
    /// Block `b`'s eight values from `p + b · stride`: blocks that lie in different planes of a
    /// blocked map.
    #[inline(always)]
    unsafe fn load_blocks(p: *const f32, _stride: usize) -> Self {
        // SAFETY: one block, at `p`, which the caller guarantees.
        unsafe { Self::load(p) }
    }
    /// Block `b`'s eight values to `p + b · stride` (see [`Lanes::load_blocks`]).
    #[inline(always)]
    unsafe fn store_blocks(self, p: *mut f32, _stride: usize) {
        // SAFETY: as in `load_blocks`.
        unsafe { self.store(p) }
    }
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

/// Two channel blocks in one AVX-512 register, for [`Backend::Avx512`]'s convolution tiles.
///
/// Why: in a tile of one vector per pixel, an FMA can take its broadcast input straight from
/// memory (`{1to16}`), while an eight-lane tile of a 16-channel layer needs a separate
/// broadcast for every two FMAs, and on Zen 4 those broadcasts take FMA issue slots: a
/// 2 × 8 tile peaks at 84 % of the core, a 16-lane 1 × 8 tile at 100 %. Each lane still sees
/// the same fused multiply-adds in the same order, so the bits are those of [`Avx`].
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(crate) struct Zmm(std::arch::x86_64::__m512);

#[cfg(target_arch = "x86_64")]
impl Lanes for Zmm {
    const BLOCKS: usize = 2;
    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY (all below): the caller runs with AVX-512F enabled and valid pointers.
        Zmm(unsafe { std::arch::x86_64::_mm512_setzero_ps() })
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Zmm(unsafe { std::arch::x86_64::_mm512_loadu_ps(p) })
    }
    #[inline(always)]
    unsafe fn splat(p: *const f32) -> Self {
        // A plain load and set1, so that the compiler can fold it into the FMA that uses it.
        Zmm(unsafe { std::arch::x86_64::_mm512_set1_ps(*p) })
    }
    #[inline(always)]
    unsafe fn fma(a: Self, b: Self, c: Self) -> Self {
        Zmm(unsafe { std::arch::x86_64::_mm512_fmadd_ps(a.0, b.0, c.0) })
    }
    #[inline(always)]
    unsafe fn add(a: Self, b: Self) -> Self {
        Zmm(unsafe { std::arch::x86_64::_mm512_add_ps(a.0, b.0) })
    }
    #[inline(always)]
    unsafe fn sub(a: Self, b: Self) -> Self {
        Zmm(unsafe { std::arch::x86_64::_mm512_sub_ps(a.0, b.0) })
    }
    #[inline(always)]
    unsafe fn max(a: Self, b: Self) -> Self {
        // As `maxps`: the second operand unless the first is greater.
        Zmm(unsafe { std::arch::x86_64::_mm512_max_ps(a.0, b.0) })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        unsafe { std::arch::x86_64::_mm512_storeu_ps(p, self.0) }
    }
    #[inline(always)]
    unsafe fn load_blocks(p: *const f32, stride: usize) -> Self {
        use std::arch::x86_64::*;
        unsafe {
            let low = _mm512_castps256_ps512(_mm256_loadu_ps(p));
            let high = _mm256_castps_pd(_mm256_loadu_ps(p.add(stride)));
            Zmm(_mm512_castpd_ps(_mm512_insertf64x4::<1>(
                _mm512_castps_pd(low),
                high,
            )))
        }
    }
    #[inline(always)]
    unsafe fn store_blocks(self, p: *mut f32, stride: usize) {
        use std::arch::x86_64::*;
        unsafe {
            _mm256_storeu_ps(p, _mm512_castps512_ps256(self.0));
            let high = _mm512_extractf64x4_pd::<1>(_mm512_castps_pd(self.0));
            _mm256_storeu_ps(p.add(stride), _mm256_castpd_ps(high));
        }
    }
    #[inline(always)]
    fn prefetch(p: *const f32) {
        Avx::prefetch(p)
    }
}
