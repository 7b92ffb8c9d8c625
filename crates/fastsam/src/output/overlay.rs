//! The image with every mask drawn in its own colour: filled at half opacity, outlined at full strength.

use crate::image::RgbImage;
use crate::mask::Mask;
use crate::{Error, Result};

/// Fill opacity of a mask's colour over the image.
const ALPHA: f32 = 0.5;
/// Outline colour = fill colour scaled by this (darker, opaque).
const OUTLINE_SHADE: f32 = 0.6;

/// A bright colour for mask `i`: hues spread by the golden angle so neighbours in the list differ.
pub fn color(i: usize) -> [u8; 3] {
    let hue = (i as f32 * 137.507_77).rem_euclid(360.0) / 60.0;
    let (s, v) = (0.85f32, 0.95f32);
    let c = v * s;
    let x = c * (1.0 - (hue.rem_euclid(2.0) - 1.0).abs());
    let (r, g, b) = match hue as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = v - c;
    [r, g, b].map(|u| ((u + m) * 255.0).round() as u8)
}

/// Draws `masks` over `image`: mask `i` in [`color`]`(i)`. Larger masks are drawn first so small ones stay
/// visible on top of them.
pub fn overlay(image: &RgbImage, masks: &[&Mask]) -> Result<RgbImage> {
    let mut out = image.clone();
    let mut order: Vec<usize> = (0..masks.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(masks[i].area()));
    for i in order {
        let m = masks[i];
        if (m.width(), m.height()) != (image.width, image.height) {
            return Err(Error::invalid(
                "overlay",
                format!("a {}x{} mask on a {}x{} image", m.width(), m.height(), image.width, image.height),
            ));
        }
        let fill = color(i);
        let line = fill.map(|c| (c as f32 * OUTLINE_SHADE).round() as u8);
        m.for_each_run(|y, a, b| {
            for x in a..b {
                let edge = x == a || x + 1 == b || y == 0 || !m.get(x, y - 1) || !m.get(x, y + 1);
                let i = (y as usize * out.width as usize + x as usize) * 3;
                let px = &mut out.data[i..i + 3];
                if edge {
                    px.copy_from_slice(&line);
                } else {
                    for (p, &c) in px.iter_mut().zip(&fill) {
                        *p = (*p as f32 * (1.0 - ALPHA) + c as f32 * ALPHA).round() as u8;
                    }
                }
            }
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_inside_outlines_the_border_and_keeps_the_rest() {
        let image = RgbImage::new(7, 7, vec![100; 7 * 7 * 3]).unwrap();
        let mut px = vec![0u8; 49];
        for y in 1..6 {
            for x in 1..6 {
                px[y * 7 + x] = 1;
            }
        }
        let m = Mask::from_full(7, 7, &px).unwrap();
        let out = overlay(&image, &[&m]).unwrap();
        let c = color(0);
        let fill = c.map(|v| (100.0 * (1.0 - ALPHA) + v as f32 * ALPHA).round() as u8);
        let line = c.map(|v| (v as f32 * OUTLINE_SHADE).round() as u8);
        assert_eq!(out.pixel(3, 3), fill);
        assert_eq!(out.pixel(1, 3), line);
        assert_eq!(out.pixel(3, 5), line);
        assert_eq!(out.pixel(0, 0), [100, 100, 100]);
        assert_ne!(color(0), color(1));
        // PNG round trip.
        let png = crate::output::png::encode_rgb(&out).unwrap();
        let back = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(back.as_raw(), &out.data);
    }
}
