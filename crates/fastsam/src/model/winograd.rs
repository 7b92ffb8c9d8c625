//! 3×3 stride-1 convolution by Winograd's minimal filtering F(4×4, 3×3) (Lavin & Gray, "Fast Algorithms for
//! Convolutional Neural Networks", 2015).
//!
//! Why: ONNX Runtime's direct convolution already runs at ~90% of this CPU's fp32 peak, and 70–80% of
//! FastSAM's arithmetic is 3×3 stride-1 convolutions. F(4×4, 3×3) computes each 4×4 output tile with 36
//! multiplications per input/output channel pair instead of 144, so those layers need a quarter of the
//! multiply-adds; the transforms around the 36 matrix products are linear passes over memory.
//!
//! Numerics: the transforms use the points 0, ±1, ±2, ∞, so rounding grows by a few ulps over direct
//! summation (relative error ~1e-6..1e-5 of the largest partial sums), the same order as the differences
//! between ONNX Runtime and PyTorch that the parity tests already tolerate.
//!
//! Layout: NCHW in and out. Tiles are processed in blocks of whole tile rows so the transformed input and the
//! products of one block stay in cache: `V[k][ci][t]` (k = 0..36 the tile frequency), `M[k][co][t]`, and
//! `M_k = U_k · V_k` with `U[k][co][ci]` the transformed weights.

use rayon::prelude::*;

/// Transformed-domain points per tile (6×6).
const K: usize = 36;
/// Output tile side.
const TILE: usize = 4;
/// Scratch budget of one block (transformed input + products), bytes. Measured on a 1 MiB-L2 / 32 MiB-L3
/// machine: 2–8 MiB are equally fast, whole images (tens of MB) ~15% slower.
const BLOCK_BYTES: usize = 4 << 20;

/// `G`, the 6×3 filter transform.
const G: [[f64; 3]; 6] = [
    [1. / 4., 0., 0.],
    [-1. / 6., -1. / 6., -1. / 6.],
    [-1. / 6., 1. / 6., -1. / 6.],
    [1. / 24., 1. / 12., 1. / 6.],
    [1. / 24., -1. / 12., 1. / 6.],
    [0., 0., 1.],
];

/// Runs `f(0..n)`, possibly in parallel. The ONNX Runtime kernel uses the session's own thread pool.
pub trait ParallelFor {
    fn run(&self, n: usize, f: &(dyn Fn(usize) + Sync));
}

/// Runs everything on the calling thread.
pub struct Sequential;

impl ParallelFor for Sequential {
    fn run(&self, n: usize, f: &(dyn Fn(usize) + Sync)) {
        (0..n).for_each(f);
    }
}

/// A convolution's weights, transformed once.
#[derive(Debug, Clone)]
pub struct Winograd3x3 {
    cin: usize,
    cout: usize,
    /// `U[k][co][ci] = (G g G^T)[k]`, computed in f64.
    u: Vec<f32>,
    bias: Vec<f32>,
}

/// Reused buffers of one block (grown on demand).
#[derive(Debug, Default)]
pub struct Scratch {
    v: Vec<f32>,
    m: Vec<f32>,
    /// Overrides [`BLOCK_BYTES`] (tests use tiny blocks to cover the block seams).
    block_bytes: Option<usize>,
}

/// A raw pointer handed to parallel workers that write disjoint parts of one buffer.
#[derive(Clone, Copy)]
struct Shared(*mut f32);
// SAFETY: each worker writes only the elements of its own index (documented at every use).
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

impl Shared {
    /// Taking `self` whole keeps closures capturing the `Sync` wrapper, not the raw field.
    fn at(self, offset: usize) -> *mut f32 {
        self.0.wrapping_add(offset)
    }
}

impl Winograd3x3 {
    /// `weight` is OIHW `(cout, cin, 3, 3)`; `bias` has `cout` values.
    pub fn new(weight: &[f32], bias: Option<&[f32]>, cout: usize, cin: usize) -> Result<Self, String> {
        if cout == 0 || cin == 0 || weight.len() != cout * cin * 9 {
            return Err(format!("weight has {} values, expected {cout}×{cin}×3×3", weight.len()));
        }
        let bias = match bias {
            Some(b) if b.len() != cout => return Err(format!("bias has {} values, expected {cout}", b.len())),
            Some(b) => b.to_vec(),
            None => vec![0.0; cout],
        };
        // One output channel per task: FastSAM-x has ~5 M filters to transform at session creation.
        let per_out: Vec<Vec<f32>> = (0..cout)
            .into_par_iter()
            .map(|co| {
                let mut block = vec![0f32; K * cin];
                for ci in 0..cin {
                    let g = &weight[(co * cin + ci) * 9..][..9];
                    let mut gg = [[0f64; 3]; 6];
                    for (i, row) in gg.iter_mut().enumerate() {
                        for (j, v) in row.iter_mut().enumerate() {
                            *v = G[i][0] * f64::from(g[j])
                                + G[i][1] * f64::from(g[3 + j])
                                + G[i][2] * f64::from(g[6 + j]);
                        }
                    }
                    for (i, row) in gg.iter().enumerate() {
                        for (j, gj) in G.iter().enumerate() {
                            block[(i * 6 + j) * cin + ci] = (row[0] * gj[0] + row[1] * gj[1] + row[2] * gj[2]) as f32;
                        }
                    }
                }
                block
            })
            .collect();
        let mut u = vec![0f32; K * cout * cin];
        for (co, block) in per_out.iter().enumerate() {
            for (k, src) in block.chunks_exact(cin).enumerate() {
                u[(k * cout + co) * cin..][..cin].copy_from_slice(src);
            }
        }
        Ok(Winograd3x3 { cin, cout, u, bias })
    }

    pub fn in_channels(&self) -> usize {
        self.cin
    }

    pub fn out_channels(&self) -> usize {
        self.cout
    }

    /// `y = conv3x3(x) + bias` with padding 1: `x` is `(batch, cin, h, w)`, `y` `(batch, cout, h, w)`.
    pub fn forward(
        &self,
        x: &[f32],
        [batch, h, w]: [usize; 3],
        y: &mut [f32],
        scratch: &mut Scratch,
        par: &dyn ParallelFor,
    ) -> Result<(), String> {
        let (cin, cout) = (self.cin, self.cout);
        if x.len() != batch * cin * h * w || y.len() != batch * cout * h * w {
            return Err(format!(
                "input has {} values and output {}, expected {batch}×{cin}×{h}×{w} and {batch}×{cout}×{h}×{w}",
                x.len(),
                y.len()
            ));
        }
        if h == 0 || w == 0 {
            return Ok(());
        }
        let (th, tw) = (h.div_ceil(TILE), w.div_ceil(TILE));
        let budget = scratch.block_bytes.unwrap_or(BLOCK_BYTES);
        let by_budget = budget / (K * (cin + cout) * tw * 4);
        // Wide layers need wider matrix products to keep the multiply-adds fed (measured: 640→320 channels at
        // 48×64 take 33 ms in 32-tile products, 22 ms with the whole layer in one block).
        // An explicit budget (tests of the block seams) is taken as it is.
        let by_width = if scratch.block_bytes.is_some() { 1 } else { ((cin + cout) / 2).div_ceil(tw) };
        let rows_per_block = by_budget.max(by_width).clamp(1, th);
        let block_tiles = rows_per_block * tw;
        scratch.v.resize(K * cin * block_tiles, 0.0);
        scratch.m.resize(K * cout * block_tiles, 0.0);
        for n in 0..batch {
            let xn = &x[n * cin * h * w..][..cin * h * w];
            let yn = Shared(y[n * cout * h * w..].as_mut_ptr());
            for ty0 in (0..th).step_by(rows_per_block) {
                let rows = rows_per_block.min(th - ty0);
                let tiles = rows * tw;
                let v = Shared(scratch.v.as_mut_ptr());
                let m = Shared(scratch.m.as_mut_ptr());
                par.run(cin, &|c| {
                    // SAFETY: channel c writes only V[k][c][..tiles], inside the block buffer.
                    unsafe { input_transform(&xn[c * h * w..][..h * w], h, w, ty0, rows, tw, v, c, cin, block_tiles) }
                });
                par.run(K, &|k| {
                    // SAFETY: product k writes only M[k], reads U[k] and V[k] (all in bounds).
                    unsafe {
                        gemm::gemm(
                            cout,
                            tiles,
                            cin,
                            m.at(k * cout * block_tiles),
                            1,
                            block_tiles as isize,
                            false,
                            self.u.as_ptr().add(k * cout * cin),
                            1,
                            cin as isize,
                            v.at(k * cin * block_tiles),
                            1,
                            block_tiles as isize,
                            0.0f32,
                            1.0f32,
                            false,
                            false,
                            false,
                            gemm::Parallelism::None,
                        )
                    }
                });
                par.run(cout, &|co| {
                    // SAFETY: channel co reads M[..][co] and writes only its own output plane of image n.
                    unsafe { output_transform(m, co, cout, block_tiles, ty0, rows, tw, h, w, self.bias[co], yn) }
                });
            }
        }
        Ok(())
    }
}

/// `V[k][c][t] = (B^T d B)[k]` for the 6×6 input patches `d` of tile rows `ty0..ty0+rows` of one channel.
///
/// # Safety
/// `v` must hold `K · cin · block_tiles` floats and `rows · tw ≤ block_tiles`.
#[allow(clippy::too_many_arguments)]
unsafe fn input_transform(
    xc: &[f32],
    h: usize,
    w: usize,
    ty0: usize,
    rows: usize,
    tw: usize,
    v: Shared,
    c: usize,
    cin: usize,
    block_tiles: usize,
) {
    // Rows of the vertical transform, with the padding column on the left and zeros up to the last tile's reach.
    let wp = tw * TILE + 2;
    let mut vertical = vec![0f32; 6 * wp];
    let zeros = vec![0f32; w];
    for r in 0..rows {
        let ty = ty0 + r;
        let src: [&[f32]; 6] = std::array::from_fn(|i| {
            let iy = (ty * TILE + i).wrapping_sub(1);
            if iy < h {
                &xc[iy * w..][..w]
            } else {
                &zeros[..]
            }
        });
        {
            let mut rows_out = vertical.chunks_exact_mut(wp);
            let dst: [&mut [f32]; 6] = std::array::from_fn(|_| &mut rows_out.next().unwrap()[1..=w]);
            bt6(src, dst, w);
        }
        for i in 0..6 {
            let row = &vertical[i * wp..][..wp];
            let dst: [&mut [f32]; 6] = std::array::from_fn(|j| {
                std::slice::from_raw_parts_mut(v.at(((i * 6 + j) * cin + c) * block_tiles + r * tw), tw)
            });
            let mut dst = dst;
            for (t, d) in row.windows(6).step_by(TILE).take(tw).enumerate() {
                store(&mut dst, t, bt([d[0], d[1], d[2], d[3], d[4], d[5]]));
            }
        }
    }
}

/// `y = A^T m A + bias` for every tile of the block, one output channel.
///
/// # Safety
/// `m` holds `K · cout · block_tiles` floats; `y` points at image n's `(cout, h, w)` output.
#[allow(clippy::too_many_arguments)]
unsafe fn output_transform(
    m: Shared,
    co: usize,
    cout: usize,
    block_tiles: usize,
    ty0: usize,
    rows: usize,
    tw: usize,
    h: usize,
    w: usize,
    bias: f32,
    y: Shared,
) {
    let mut cols = vec![0f32; 6 * 4 * tw];
    let mut out = vec![0f32; 4 * tw];
    let plane = std::slice::from_raw_parts_mut(y.at(co * h * w), h * w);
    let full = w / TILE;
    for r in 0..rows {
        let at = |k: usize| std::slice::from_raw_parts(m.at((k * cout + co) * block_tiles + r * tw), tw);
        for (j, col) in cols.chunks_exact_mut(4 * tw).enumerate() {
            let mut parts = col.chunks_exact_mut(tw);
            let dst: [&mut [f32]; 4] = std::array::from_fn(|_| parts.next().unwrap());
            at4([at(j), at(6 + j), at(12 + j), at(18 + j), at(24 + j), at(30 + j)], dst, tw);
        }
        for a in 0..TILE {
            let yy = (ty0 + r) * TILE + a;
            if yy >= h {
                break;
            }
            let src: [&[f32]; 6] = std::array::from_fn(|j| &cols[(j * 4 + a) * tw..][..tw]);
            {
                let mut parts = out.chunks_exact_mut(tw);
                let dst: [&mut [f32]; 4] = std::array::from_fn(|_| parts.next().unwrap());
                at4(src, dst, tw);
            }
            let (o0, rest) = out.split_at(tw);
            let (o1, rest) = rest.split_at(tw);
            let (o2, o3) = rest.split_at(tw);
            let row = &mut plane[yy * w..][..w];
            let (whole, tail) = row.split_at_mut(full * TILE);
            for (t, px) in whole.chunks_exact_mut(TILE).enumerate() {
                px[0] = o0[t] + bias;
                px[1] = o1[t] + bias;
                px[2] = o2[t] + bias;
                px[3] = o3[t] + bias;
            }
            for (b, px) in tail.iter_mut().enumerate() {
                *px = [o0, o1, o2, o3][b][full] + bias;
            }
        }
    }
}

/// `B^T d` for one column `d` of a 6×6 input patch.
#[inline(always)]
fn bt(d: [f32; 6]) -> [f32; 6] {
    [
        4.0 * d[0] - 5.0 * d[2] + d[4],
        -4.0 * (d[1] + d[2]) + d[3] + d[4],
        4.0 * (d[1] - d[2]) - d[3] + d[4],
        2.0 * (d[3] - d[1]) - d[2] + d[4],
        2.0 * (d[1] - d[3]) - d[2] + d[4],
        4.0 * d[1] - 5.0 * d[3] + d[5],
    ]
}

/// Lane `k` of six output rows.
#[inline(always)]
fn store(o: &mut [&mut [f32]; 6], k: usize, v: [f32; 6]) {
    for (row, v) in o.iter_mut().zip(v) {
        row[k] = v;
    }
}

/// `B^T d` along the first index, element-wise over `n` lanes.
// One lane of twelve rows per step: an index reads clearer than twelve zipped iterators.
#[allow(clippy::needless_range_loop)]
#[inline(always)]
fn bt6(d: [&[f32]; 6], o: [&mut [f32]; 6], n: usize) {
    let mut o = o.map(|row| &mut row[..n]);
    let d = d.map(|row| &row[..n]);
    for k in 0..n {
        store(&mut o, k, bt([d[0][k], d[1][k], d[2][k], d[3][k], d[4][k], d[5][k]]));
    }
}

/// `A^T m` along the first index, element-wise over `n` lanes.
#[inline(always)]
fn at4(m: [&[f32]; 6], o: [&mut [f32]; 4], n: usize) {
    let [o0, o1, o2, o3] = o;
    let (o0, o1, o2, o3) = (&mut o0[..n], &mut o1[..n], &mut o2[..n], &mut o3[..n]);
    let (m0, m1, m2, m3, m4, m5) = (&m[0][..n], &m[1][..n], &m[2][..n], &m[3][..n], &m[4][..n], &m[5][..n]);
    for k in 0..n {
        let (p12, d12, p34, d34) = (m1[k] + m2[k], m1[k] - m2[k], m3[k] + m4[k], m3[k] - m4[k]);
        o0[k] = m0[k] + p12 + p34;
        o1[k] = d12 + 2.0 * d34;
        o2[k] = p12 + 4.0 * p34;
        o3[k] = d12 + 8.0 * d34 + m5[k];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((*seed >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    }

    /// Direct convolution in f64, and the sum of |terms| per output (the scale rounding errors grow with).
    fn direct(x: &[f32], wt: &[f32], bias: &[f32], cin: usize, cout: usize, h: usize, w: usize) -> Vec<(f64, f64)> {
        let mut y = Vec::with_capacity(cout * h * w);
        for co in 0..cout {
            for yy in 0..h {
                for xx in 0..w {
                    let (mut s, mut mag) = (f64::from(bias[co]), f64::from(bias[co]).abs());
                    for ci in 0..cin {
                        for ky in 0..3 {
                            for kx in 0..3 {
                                let (iy, ix) = ((yy + ky).wrapping_sub(1), (xx + kx).wrapping_sub(1));
                                if iy < h && ix < w {
                                    let t = f64::from(wt[((co * cin + ci) * 3 + ky) * 3 + kx])
                                        * f64::from(x[(ci * h + iy) * w + ix]);
                                    s += t;
                                    mag += t.abs();
                                }
                            }
                        }
                    }
                    y.push((s, mag));
                }
            }
        }
        y
    }

    #[test]
    fn matches_direct_convolution_on_awkward_shapes() {
        let mut seed = 7;
        // Sizes that are not multiples of the tile, single rows/columns, and more tile rows than one block holds.
        for &(cin, cout, h, w, batch) in &[
            (1, 1, 1, 1, 1),
            (3, 5, 7, 9, 2),
            (8, 4, 4, 4, 1),
            (16, 24, 13, 5, 1),
            (2, 3, 1, 17, 1),
            (4, 4, 161, 3, 1),
        ] {
            for block_bytes in [None, Some(1)] {
                let x: Vec<f32> = (0..batch * cin * h * w).map(|_| lcg(&mut seed) * 8.0).collect();
                let wt: Vec<f32> = (0..cout * cin * 9).map(|_| lcg(&mut seed)).collect();
                let bias: Vec<f32> = (0..cout).map(|_| lcg(&mut seed)).collect();
                let conv = Winograd3x3::new(&wt, Some(&bias), cout, cin).unwrap();
                let mut y = vec![f32::NAN; batch * cout * h * w];
                let mut scratch = Scratch { block_bytes, ..Scratch::default() };
                conv.forward(&x, [batch, h, w], &mut y, &mut scratch, &Sequential).unwrap();
                for n in 0..batch {
                    let want = direct(&x[n * cin * h * w..][..cin * h * w], &wt, &bias, cin, cout, h, w);
                    for (i, &(s, mag)) in want.iter().enumerate() {
                        let got = f64::from(y[n * cout * h * w + i]);
                        assert!(
                            (got - s).abs() <= 1e-5 * mag + 1e-6,
                            "{cin}→{cout} {h}×{w} #{n} blocks {block_bytes:?} at {i}: {got} vs {s} (scale {mag})"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn shape_errors_are_reported() {
        assert!(Winograd3x3::new(&[0.0; 8], None, 1, 1).is_err());
        assert!(Winograd3x3::new(&[0.0; 9], Some(&[0.0, 1.0]), 1, 1).is_err());
        let conv = Winograd3x3::new(&[0.0; 9], None, 1, 1).unwrap();
        let mut y = vec![0.0; 4];
        let err = conv.forward(&[0.0; 3], [1, 2, 2], &mut y, &mut Scratch::default(), &Sequential).unwrap_err();
        assert!(err.contains("expected 1×1×2×2"), "{err}");
    }
}
