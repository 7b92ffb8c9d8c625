//! COCO polygons of a mask: the outer contour of every 4-connected piece, traced along pixel edges.
//!
//! Vertices sit on pixel corners (`(x, y)` is the top-left corner of pixel `(x, y)`), so a polygon encloses
//! exactly its piece's pixels; holes are filled (only outer contours are kept, as COCO polygons cannot say
//! "minus"). Collinear vertices are dropped, so a rectangle is 4 points. Diagonal neighbours are separate
//! pieces, which keeps every polygon simple.

use std::collections::HashMap;

use super::annotations::AnnotationFile;
use crate::mask::Mask;

/// Outer contours of `mask` as COCO polygons `[x1, y1, x2, y2, ...]`, clockwise on screen (y down), each with
/// at least 3 distinct points.
pub fn polygons(mask: &Mask) -> Vec<Vec<f64>> {
    let mut edges = boundary_edges(mask);
    let mut out = Vec::new();
    while let Some(start) = edges.any_start() {
        let ring = edges.trace(start);
        if signed_area2(&ring) > 0 {
            let mut ring = drop_collinear(&ring);
            if ring.len() >= 3 {
                // Deterministic output: each ring starts at its top-left vertex, rings in top-left order.
                let first = (0..ring.len()).min_by_key(|&i| (ring[i].1, ring[i].0)).unwrap_or(0);
                ring.rotate_left(first);
                out.push(ring);
            }
        }
    }
    out.sort_by_key(|ring| (ring[0].1, ring[0].0));
    out.into_iter().map(|ring| ring.iter().flat_map(|&(x, y)| [f64::from(x), f64::from(y)]).collect()).collect()
}

/// The annotations file as JSON with each annotation's COCO polygons (see [`polygons`]) added next to
/// its RLE as `"polygons"`; `masks[i]` is annotation `i`'s mask.
pub fn annotations_with_polygons(file: &AnnotationFile, masks: &[&Mask]) -> serde_json::Value {
    use rayon::prelude::*;
    let polygons: Vec<Vec<Vec<f64>>> = masks.par_iter().map(|m| polygons(m)).collect();
    let mut value = serde_json::to_value(file).unwrap_or(serde_json::Value::Null);
    if let Some(list) = value.get_mut("annotations").and_then(|a| a.as_array_mut()) {
        for (annotation, polys) in list.iter_mut().zip(polygons) {
            if let Some(obj) = annotation.as_object_mut() {
                obj.insert("polygons".into(), serde_json::json!(polys));
            }
        }
    }
    value
}

type Point = (u32, u32);

/// Directed boundary edges with the piece on the right of the direction of travel (screen coordinates);
/// a corner where two pieces touch diagonally has two outgoing edges.
#[derive(Default)]
struct Edges {
    from: HashMap<Point, Vec<Point>>,
}

impl Edges {
    fn add(&mut self, a: Point, b: Point) {
        self.from.entry(a).or_default().push(b);
    }

    fn any_start(&self) -> Option<Point> {
        self.from.keys().next().copied()
    }

    /// Follows edges from `start` until it returns there, removing them; at a shared corner it turns right,
    /// staying on the same piece (4-connectivity). A piece touching itself at `start` passes it twice.
    fn trace(&mut self, start: Point) -> Vec<Point> {
        let mut ring = vec![start];
        let mut at = start;
        let mut dir: Option<(i64, i64)> = None;
        let mut first: Option<(i64, i64)> = None;
        while let Some(next) = self.take(at, dir) {
            let d = direction(at, next);
            first.get_or_insert(d);
            dir = Some(d);
            at = next;
            if at == start {
                let right = (-d.1, d.0);
                let outs = self.from.get(&at).map(Vec::as_slice).unwrap_or_default();
                if first == Some(right) || !outs.iter().any(|&p| direction(at, p) == right) {
                    break;
                }
            }
            ring.push(at);
        }
        ring
    }

    fn take(&mut self, at: Point, dir: Option<(i64, i64)>) -> Option<Point> {
        let outs = self.from.get_mut(&at)?;
        let pick = match (dir, outs.len()) {
            (Some((dx, dy)), n) if n > 1 => {
                let right = (-dy, dx);
                outs.iter().position(|&p| direction(at, p) == right).unwrap_or(0)
            }
            _ => 0,
        };
        let next = outs.swap_remove(pick);
        if outs.is_empty() {
            self.from.remove(&at);
        }
        Some(next)
    }
}

fn direction(a: Point, b: Point) -> (i64, i64) {
    ((i64::from(b.0) - i64::from(a.0)).signum(), (i64::from(b.1) - i64::from(a.1)).signum())
}

/// Horizontal edges as maximal segments (a row's runs minus its neighbour's), vertical edges per run end.
fn boundary_edges(mask: &Mask) -> Edges {
    let mut edges = Edges::default();
    let Some([_, y0, _, y1]) = mask.bbox() else { return edges };
    let mut prev: Vec<(u32, u32)> = Vec::new();
    let mut cur = mask.row_runs(y0);
    for y in y0..y1 {
        let next = if y + 1 < y1 { mask.row_runs(y + 1) } else { Vec::new() };
        for (a, b) in difference(&cur, &prev) {
            edges.add((a, y), (b, y));
        }
        for (a, b) in difference(&cur, &next) {
            edges.add((b, y + 1), (a, y + 1));
        }
        for &(s, e) in &cur {
            edges.add((s, y + 1), (s, y));
            edges.add((e, y), (e, y + 1));
        }
        prev = std::mem::replace(&mut cur, next);
    }
    edges
}

/// `a \ b` for sorted, disjoint half-open ranges.
fn difference(a: &[(u32, u32)], b: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut j = 0;
    for &(mut s, e) in a {
        while j < b.len() && b[j].1 <= s {
            j += 1;
        }
        let mut k = j;
        while k < b.len() && b[k].0 < e {
            if b[k].0 > s {
                out.push((s, b[k].0));
            }
            s = s.max(b[k].1);
            k += 1;
        }
        if s < e {
            out.push((s, e));
        }
    }
    out
}

/// Twice the signed area (shoelace); positive for outer contours as traced here.
fn signed_area2(ring: &[Point]) -> i64 {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let (x1, y1) = (i64::from(ring[i].0), i64::from(ring[i].1));
            let (x2, y2) = (i64::from(ring[(i + 1) % n].0), i64::from(ring[(i + 1) % n].1));
            x1 * y2 - x2 * y1
        })
        .sum()
}

fn drop_collinear(ring: &[Point]) -> Vec<Point> {
    let n = ring.len();
    (0..n)
        .filter(|&i| {
            let (p, c, q) = (ring[(i + n - 1) % n], ring[i], ring[(i + 1) % n]);
            direction(p, c) != direction(c, q)
        })
        .map(|i| ring[i])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(rows: &[&str]) -> Mask {
        let w = rows[0].len() as u32;
        let px: Vec<u8> = rows.iter().flat_map(|r| r.bytes().map(|b| u8::from(b == b'#'))).collect();
        Mask::from_full(w, rows.len() as u32, &px).unwrap()
    }

    #[test]
    fn a_rectangle_is_four_corners() {
        let m = mask(&["....", ".##.", ".##.", "...."]);
        assert_eq!(polygons(&m), vec![vec![1.0, 1.0, 3.0, 1.0, 3.0, 3.0, 1.0, 3.0]]);
    }

    #[test]
    fn holes_are_filled_and_diagonal_pieces_split() {
        let ring = mask(&["###", "#.#", "###"]);
        assert_eq!(polygons(&ring), vec![vec![0.0, 0.0, 3.0, 0.0, 3.0, 3.0, 0.0, 3.0]]);
        let diagonal = mask(&["#.", ".#"]);
        assert_eq!(
            polygons(&diagonal),
            vec![vec![0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0], vec![1.0, 1.0, 2.0, 1.0, 2.0, 2.0, 1.0, 2.0]]
        );
        assert!(polygons(&Mask::empty(4, 4)).is_empty());
    }

    #[test]
    fn a_piece_touching_itself_diagonally_keeps_its_outline() {
        // The gap at (1, 1) reaches the outside through the corner (2, 2), so it is a notch, not a hole: the
        // outline passes (2, 2) twice. The bottom-right pixel touches only at a corner: a piece of its own.
        let m = mask(&["###.", "#.#.", "##..", "...#"]);
        let got = polygons(&m);
        assert_eq!(got.len(), 2);
        let notched = [0, 0, 3, 0, 3, 2, 2, 2, 2, 1, 1, 1, 1, 2, 2, 2, 2, 3, 0, 3].map(f64::from);
        assert_eq!(got[0], notched);
        assert_eq!(got[1], vec![3.0, 3.0, 4.0, 3.0, 4.0, 4.0, 3.0, 4.0]);
    }

    #[test]
    fn range_difference() {
        assert_eq!(difference(&[(0, 10)], &[(2, 3), (5, 7)]), vec![(0, 2), (3, 5), (7, 10)]);
        assert_eq!(difference(&[(0, 2), (4, 6)], &[(1, 5)]), vec![(0, 1), (5, 6)]);
        assert_eq!(difference(&[(0, 2)], &[]), vec![(0, 2)]);
    }
}
