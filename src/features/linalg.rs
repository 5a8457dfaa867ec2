//! Eigenvalues of real symmetric matrices: Householder reduction to tridiagonal form, then
//! implicit QL iterations with Wilkinson-style shifts.
//!
//! Principal item: [`symmetric_eigenvalues`]. Used by GLCM's maximal correlation coefficient and
//! the shape class's principal axes. Reference: Golub & Van Loan, *Matrix Computations*, 4th ed.,
//! §8.3 (tridiagonalisation) and §8.3.5 (implicit symmetric QR step).

/// Eigenvalues of the symmetric `n × n` matrix `a` (row-major; only its values are used, it is
/// consumed as scratch), ascending. Returns `None` if the QL iteration fails to converge.
pub fn symmetric_eigenvalues(mut a: Vec<f64>, n: usize) -> Option<Vec<f64>> {
    if n == 0 {
        return Some(Vec::new());
    }
    let (mut diagonal, mut off_diagonal) = tridiagonalise(&mut a, n);
    tridiagonal_eigenvalues(&mut diagonal, &mut off_diagonal)?;
    diagonal.sort_by(f64::total_cmp);
    Some(diagonal)
}

/// Householder reduction of the symmetric matrix `a` to tridiagonal form; returns its diagonal
/// and its sub-diagonal (`e[i]` joins rows i and i+1; `e[n−1] = 0`).
fn tridiagonalise(a: &mut [f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0.0; n];
    let mut p = vec![0.0; n];
    for k in 0..n.saturating_sub(2) {
        // Reflect column k below the diagonal onto its first entry.
        let norm = (k + 1..n)
            .map(|r| a[r * n + k] * a[r * n + k])
            .sum::<f64>()
            .sqrt();
        if norm == 0.0 {
            continue;
        }
        let x0 = a[(k + 1) * n + k];
        let alpha = if x0 > 0.0 { -norm } else { norm };
        for r in k + 1..n {
            v[r] = a[r * n + k];
        }
        v[k + 1] -= alpha;
        let v_norm = (k + 1..n).map(|r| v[r] * v[r]).sum::<f64>().sqrt();
        if v_norm == 0.0 {
            continue;
        }
        for value in v.iter_mut().skip(k + 1) {
            *value /= v_norm;
        }
        // A ← H A H with H = I − 2 v vᵀ on the trailing block: A − 2 v wᵀ − 2 w vᵀ, where
        // p = A v, K = vᵀ p and w = p − K v.
        for r in k + 1..n {
            p[r] = (k + 1..n).map(|c| a[r * n + c] * v[c]).sum();
        }
        let coupling: f64 = (k + 1..n).map(|r| v[r] * p[r]).sum();
        for r in k + 1..n {
            p[r] -= coupling * v[r];
        }
        for r in k + 1..n {
            for c in k + 1..n {
                a[r * n + c] -= 2.0 * (v[r] * p[c] + p[r] * v[c]);
            }
        }
        a[(k + 1) * n + k] = alpha;
        a[k * n + k + 1] = alpha;
        for r in k + 2..n {
            a[r * n + k] = 0.0;
            a[k * n + r] = 0.0;
        }
    }
    let diagonal = (0..n).map(|i| a[i * n + i]).collect();
    let off_diagonal = (0..n)
        .map(|i| if i + 1 < n { a[(i + 1) * n + i] } else { 0.0 })
        .collect();
    (diagonal, off_diagonal)
}

/// Implicit QL iterations on a symmetric tridiagonal matrix; `d` becomes the eigenvalues.
fn tridiagonal_eigenvalues(d: &mut [f64], e: &mut [f64]) -> Option<()> {
    let n = d.len();
    for l in 0..n {
        let mut iterations = 0;
        loop {
            // The first negligible sub-diagonal entry at or after l splits the matrix.
            let mut m = l;
            while m + 1 < n {
                let scale = d[m].abs() + d[m + 1].abs();
                if e[m].abs() <= f64::EPSILON * scale {
                    break;
                }
                m += 1;
            }
            if m == l {
                break;
            }
            iterations += 1;
            if iterations > 100 {
                return None;
            }
            // Shift from the leading 2 × 2 block, then chase the bulge from m up to l.
            let mut g = (d[l + 1] - d[l]) / (2.0 * e[l]);
            let mut r = g.hypot(1.0);
            g = d[m] - d[l] + e[l] / (g + r.copysign(g));
            let (mut s, mut c, mut p) = (1.0, 1.0, 0.0);
            let mut deflated = false;
            let mut i = m;
            while i > l {
                i -= 1;
                let f = s * e[i];
                let b = c * e[i];
                r = f.hypot(g);
                e[i + 1] = r;
                if r == 0.0 {
                    d[i + 1] -= p;
                    e[m] = 0.0;
                    deflated = true;
                    break;
                }
                s = f / r;
                c = g / r;
                g = d[i + 1] - p;
                r = (d[i] - g) * s + 2.0 * c * b;
                p = s * r;
                d[i + 1] = g + p;
                g = c * r - b;
            }
            if deflated {
                continue;
            }
            d[l] -= p;
            e[l] = g;
            e[m] = 0.0;
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| (x - y).abs() < 1e-12 * (1.0 + y.abs()))
    }

    #[test]
    fn known_spectra() {
        assert!(close(
            &symmetric_eigenvalues(vec![2.0, 1.0, 1.0, 2.0], 2).unwrap(),
            &[1.0, 3.0]
        ));
        // [[2,-1,0],[-1,2,-1],[0,-1,2]]: 2 − √2, 2, 2 + √2.
        let a = vec![2.0, -1.0, 0.0, -1.0, 2.0, -1.0, 0.0, -1.0, 2.0];
        let s = 2f64.sqrt();
        assert!(close(
            &symmetric_eigenvalues(a, 3).unwrap(),
            &[2.0 - s, 2.0, 2.0 + s]
        ));
        assert!(close(&symmetric_eigenvalues(vec![5.0], 1).unwrap(), &[5.0]));
    }

    #[test]
    fn dense_matrix_keeps_trace_and_frobenius_norm() {
        // 1/(i + j + 1) (Hilbert) plus a diagonal: a full symmetric matrix.
        let n = 7;
        let a: Vec<f64> = (0..n * n)
            .map(|x| {
                let (i, j) = (x / n, x % n);
                1.0 / (i + j + 1) as f64 + if i == j { i as f64 } else { 0.0 }
            })
            .collect();
        let trace: f64 = (0..n).map(|i| a[i * n + i]).sum();
        let frobenius: f64 = a.iter().map(|v| v * v).sum();
        let eig = symmetric_eigenvalues(a, n).unwrap();
        assert!((eig.iter().sum::<f64>() - trace).abs() < 1e-12);
        assert!((eig.iter().map(|v| v * v).sum::<f64>() - frobenius).abs() < 1e-10);
        assert!(eig.windows(2).all(|w| w[0] <= w[1]));
    }
}
