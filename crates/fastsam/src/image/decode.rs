//! Bytes → RGB pixels exactly as the reference reads an image: Ultralytics' `imread` (`cv2.imdecode(buf,
//! IMREAD_COLOR)`, or for `.tif/.tiff` names `cv2.imdecodemulti(buf, IMREAD_UNCHANGED)[0][..., :3]` with
//! 16-bit data shifted `>> 8`), OpenCV 5.0.
//!
//! What `IMREAD_COLOR` means, measured on opencv-python 5.0.0.93 and reproduced here (goldens:
//! tools/golden/image.py):
//! - the format comes from the content, never from the name;
//! - EXIF orientation is applied (JPEG APP1, PNG eXIf, WebP EXIF, TIFF Orientation tag, also on the
//!   `.tif` IMREAD_UNCHANGED path);
//! - alpha is dropped without compositing (colour values under alpha 0 come through as stored), grey is
//!   replicated into three channels, palettes (and their tRNS) are expanded, ICC profiles and PNG gAMA are
//!   ignored;
//! - 16-bit PNG samples keep their high byte (`>> 8`), so 0x80FF gives 0x80;
//! - JPEG goes through libjpeg-turbo (mozjpeg here: same code, same bytes, arithmetic coding included),
//!   CMYK/YCCK through OpenCV's `k - ((255 - c) * k >> 8)`; a JPEG or PNG that ends early (even just
//!   without its EOI/IEND) is an error, not a partial image; corrupt entropy data still decodes;
//! - TIFF: grey pages are read directly (16-bit `>> 8`, alpha ignored), colour pages through libtiff's
//!   RGBA interface (16-bit `(v + 128) / 257`, unassociated alpha premultiplied, CMYK
//!   `(255 - k)(255 - c) / 255`); JPEG-compressed and palette TIFFs are refused (cv2 reads them);
//! - BMP: 16-bit pixels are widened by shifting (`v5 << 3`), not rescaled;
//! - GIF: the first frame drawn over the logical screen filled with the background colour (transparent
//!   pixels show the background). The reference itself treats `.gif` paths as video, not via `imread`.

use std::io::{BufRead, Cursor, Read};
use std::path::Path;

use super::{exif, RgbImage};
use crate::{Error, Result};

/// Refusals applied before any pixel is decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest accepted `width * height`, checked against the header before decoding. The default, 100 MP
    /// (300 MB of RGB), admits any camera photo; OpenCV's own ceiling is 2^30 pixels.
    pub max_pixels: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits { max_pixels: 100_000_000 }
    }
}

/// Image container formats this crate decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
    WebP,
    Bmp,
    Tiff,
    Gif,
}

impl Format {
    /// Recognises a format by its leading bytes. `Err` names a format OpenCV knows but this crate does not
    /// decode, or says the content is unknown.
    pub fn sniff(bytes: &[u8]) -> std::result::Result<Format, String> {
        let starts = |magic: &[u8]| bytes.starts_with(magic);
        if starts(b"\xFF\xD8\xFF") {
            Ok(Format::Jpeg)
        } else if starts(b"\x89PNG\r\n\x1a\n") {
            Ok(Format::Png)
        } else if starts(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
            Ok(Format::WebP)
        } else if starts(b"BM") {
            Ok(Format::Bmp)
        } else if starts(b"II*\0") || starts(b"MM\0*") || starts(b"II+\0") || starts(b"MM\0+") {
            Ok(Format::Tiff)
        } else if starts(b"GIF87a") || starts(b"GIF89a") {
            Ok(Format::Gif)
        } else if bytes.get(4..8) == Some(b"ftyp") {
            Err("AVIF/HEIF is not supported (convert it to JPEG or PNG)".into())
        } else if starts(b"\0\0\0\x0CjP  ") || starts(b"\xFF\x4F\xFF\x51") {
            Err("JPEG 2000 is not supported (convert it to JPEG or PNG)".into())
        } else if bytes.is_empty() {
            Err("the file is empty".into())
        } else {
            Err("unknown image format (supported: JPEG, PNG, WebP, BMP, TIFF, GIF)".into())
        }
    }
}

/// Reads and decodes the image file at `path`.
pub fn open(path: impl AsRef<Path>, limits: &DecodeLimits) -> Result<RgbImage> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    decode(&bytes, &path.display().to_string(), limits)
}

/// Decodes an encoded image. `name` is used in error messages and, like the reference, to pick the TIFF
/// reading path (`.tif`/`.tiff` names read the first page unchanged, other names read it as `IMREAD_COLOR`).
pub fn decode(bytes: &[u8], name: &str, limits: &DecodeLimits) -> Result<RgbImage> {
    let fail = |reason: String| Error::image(name, reason);
    let format = Format::sniff(bytes).map_err(fail)?;
    let decoded = match format {
        Format::Jpeg => decode_jpeg(bytes, limits),
        Format::Png => {
            check_png_complete(bytes).and_then(|()| decode_with_image_crate(bytes, image::ImageFormat::Png, limits))
        }
        Format::WebP => decode_with_image_crate(bytes, image::ImageFormat::WebP, limits),
        Format::Bmp => decode_bmp(bytes, limits),
        Format::Tiff => decode_tiff(bytes, has_tiff_name(name), limits),
        Format::Gif => decode_gif(bytes, limits),
    };
    let (img, orientation) = decoded.map_err(|e| fail(format!("{format:?}: {e}")))?;
    Ok(match orientation {
        Some(o) => exif::apply_orientation(img, o),
        None => img,
    })
}

fn has_tiff_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".tif") || lower.ends_with(".tiff")
}

/// Pixels plus the EXIF orientation still to apply.
type Decoded = (RgbImage, Option<u16>);
type DecodeResult = std::result::Result<Decoded, String>;

fn check_size(width: u64, height: u64, limits: &DecodeLimits) -> std::result::Result<(), String> {
    if width == 0 || height == 0 {
        return Err(format!("header declares an empty {width}x{height} image"));
    }
    let pixels = width.saturating_mul(height);
    if pixels > limits.max_pixels {
        return Err(format!(
            "header declares {width}x{height} = {pixels} pixels, more than the limit of {} (refused before decoding)",
            limits.max_pixels
        ));
    }
    Ok(())
}

fn rgb(width: usize, height: usize, data: Vec<u8>) -> RgbImage {
    debug_assert_eq!(data.len(), width * height * 3);
    RgbImage { width: width as u32, height: height as u32, data }
}

// ---------------------------------------------------------------------------------------------------- JPEG

/// A byte slice reader that remembers whether libjpeg asked for data past the end. OpenCV's memory source
/// suspends there and `imdecode` fails; mozjpeg's source instead invents an EOI and carries on, so the flag
/// turns that into the same failure.
struct EofWatch<'a> {
    rest: &'a [u8],
    hit_end: &'a std::cell::Cell<bool>,
}

impl Read for EofWatch<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.fill_buf()?.len().min(buf.len());
        buf[..n].copy_from_slice(&self.rest[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for EofWatch<'_> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.rest.is_empty() {
            self.hit_end.set(true);
        }
        Ok(self.rest)
    }

    fn consume(&mut self, n: usize) {
        self.rest = &self.rest[n..];
    }
}

fn decode_jpeg(bytes: &[u8], limits: &DecodeLimits) -> DecodeResult {
    let hit_end = std::cell::Cell::new(false);
    // libjpeg reports fatal errors through mozjpeg's error_exit, which unwinds with the message as payload.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        jpeg_pixels(EofWatch { rest: bytes, hit_end: &hit_end }, limits)
    }));
    let decoded = match outcome {
        Ok(result) => result?,
        Err(payload) => return Err(panic_message(payload)),
    };
    if hit_end.get() {
        return Err("truncated: the data ends before the end-of-image marker".into());
    }
    Ok(decoded)
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "libjpeg failed".into())
}

fn jpeg_pixels(reader: EofWatch<'_>, limits: &DecodeLimits) -> DecodeResult {
    use mozjpeg::{ColorSpace, ColorSpaceExt, Decompress, Marker};
    let io = |e: std::io::Error| e.to_string();
    let dec = Decompress::builder().with_markers(&[Marker::APP(1)]).from_reader(reader).map_err(io)?;
    let (width, height) = dec.size();
    check_size(width as u64, height as u64, limits)?;
    let orientation = dec
        .markers()
        .filter(|m| m.marker == Marker::APP(1))
        .find_map(|m| exif::strip_app1_header(m.data))
        .and_then(exif::orientation);
    let pixels = if dec.color_space().num_components() == 4 {
        let mut started = dec.to_colorspace(ColorSpace::JCS_CMYK).map_err(io)?;
        let cmyk: Vec<u8> = started.read_scanlines().map_err(io)?;
        started.finish().map_err(io)?;
        cmyk_to_rgb(&cmyk)
    } else {
        let mut started = dec.rgb().map_err(io)?;
        let rgb: Vec<u8> = started.read_scanlines().map_err(io)?;
        started.finish().map_err(io)?;
        rgb
    };
    if pixels.len() != width * height * 3 {
        return Err("libjpeg returned fewer rows than the header declares".into());
    }
    Ok((rgb(width, height, pixels), orientation))
}

/// OpenCV's `icvCvt_CMYK2BGR_8u_C4C3R`: libjpeg hands over the stored (Adobe-inverted) CMYK samples.
fn cmyk_to_rgb(cmyk: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(cmyk.len() / 4 * 3);
    for px in cmyk.chunks_exact(4) {
        let k = i32::from(px[3]);
        for &v in &px[..3] {
            out.push((k - (((255 - i32::from(v)) * k) >> 8)) as u8);
        }
    }
    out
}

// ------------------------------------------------------------------------------------- PNG, WebP, BMP

/// libpng (through OpenCV's reader) fails when the stream ends before IEND; the png crate would return
/// what it could decode, so the chunk structure is walked first.
fn check_png_complete(bytes: &[u8]) -> std::result::Result<(), String> {
    let mut at = 8usize;
    while let Some(head) = bytes.get(at..at + 8) {
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let end = at.saturating_add(12).saturating_add(len);
        if end > bytes.len() {
            break;
        }
        if &head[4..8] == b"IEND" {
            return Ok(());
        }
        at = end;
    }
    Err("truncated: the stream ends before the IEND chunk".into())
}

fn decode_with_image_crate(bytes: &[u8], format: image::ImageFormat, limits: &DecodeLimits) -> DecodeResult {
    use image::ImageDecoder;
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format);
    // Our own pixel limit is checked below from the header; the crate's allocation cap would refuse
    // large-but-allowed 16-bit images.
    reader.no_limits();
    let mut dec = reader.into_decoder().map_err(|e| e.to_string())?;
    let (width, height) = dec.dimensions();
    check_size(u64::from(width), u64::from(height), limits)?;
    let orientation = match format {
        image::ImageFormat::Png => dec.exif_metadata().ok().flatten().and_then(|blob| exif::orientation(&blob)),
        // Not the crate's `exif_metadata`: it allocates the chunk's declared size (up to 4 GiB) before reading.
        image::ImageFormat::WebP => webp_exif_chunk(bytes).and_then(exif::orientation),
        _ => None,
    };
    let color = dec.color_type();
    let mut buf = vec![0u8; usize::try_from(dec.total_bytes()).map_err(|e| e.to_string())?];
    dec.read_image(&mut buf).map_err(|e| e.to_string())?;
    let pixels = to_rgb8(&buf, color)?;
    Ok((rgb(width as usize, height as usize, pixels), orientation))
}

/// The payload of a WebP file's `EXIF` chunk, if it has one that lies wholly inside `bytes`.
fn webp_exif_chunk(bytes: &[u8]) -> Option<&[u8]> {
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WEBP" {
        return None;
    }
    let mut at = 12usize;
    while let Some(head) = bytes.get(at..at + 8) {
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let data = bytes.get(at + 8..(at + 8).checked_add(len)?)?;
        if &head[..4] == b"EXIF" {
            return Some(data);
        }
        // Chunks are padded to an even size.
        at = at + 8 + len + (len & 1);
    }
    None
}

/// Interleaved samples of `color` → RGB8: grey replicated, alpha dropped, 16-bit samples `>> 8`.
fn to_rgb8(buf: &[u8], color: image::ColorType) -> std::result::Result<Vec<u8>, String> {
    use image::ColorType as C;
    let (channels, wide) = match color {
        C::L8 => (1, false),
        C::La8 => (2, false),
        C::Rgb8 => (3, false),
        C::Rgba8 => (4, false),
        C::L16 => (1, true),
        C::La16 => (2, true),
        C::Rgb16 => (3, true),
        C::Rgba16 => (4, true),
        other => return Err(format!("unsupported sample layout {other:?}")),
    };
    let bytes_per_sample = if wide { 2 } else { 1 };
    // The crate stores 16-bit samples in native byte order; the high byte is what OpenCV keeps.
    let high = if cfg!(target_endian = "little") { 1 } else { 0 };
    let sample = |px: &[u8], c: usize| if wide { px[c * 2 + high] } else { px[c] };
    let mut out = Vec::with_capacity(buf.len() / (channels * bytes_per_sample) * 3);
    for px in buf.chunks_exact(channels * bytes_per_sample) {
        if channels < 3 {
            let g = sample(px, 0);
            out.extend_from_slice(&[g, g, g]);
        } else {
            out.extend_from_slice(&[sample(px, 0), sample(px, 1), sample(px, 2)]);
        }
    }
    Ok(out)
}

/// BMP through the image crate, except that OpenCV widens 16-bit pixels by shifting (`v5 << 3`, `v6 << 2`)
/// where the crate rescales; the crate's rescaling is undone since it is one-to-one.
fn decode_bmp(bytes: &[u8], limits: &DecodeLimits) -> DecodeResult {
    let green_bits = bmp16_green_bits(bytes)?;
    let (mut img, orientation) = decode_with_image_crate(bytes, image::ImageFormat::Bmp, limits)?;
    if let Some(green_bits) = green_bits {
        let narrow = |v: u8, bits: u32| {
            let max = (1u32 << bits) - 1;
            (((u32::from(v) * max + 127) / 255) << (8 - bits)) as u8
        };
        for px in img.data.chunks_exact_mut(3) {
            px[0] = narrow(px[0], 5);
            px[1] = narrow(px[1], green_bits);
            px[2] = narrow(px[2], 5);
        }
    }
    Ok((img, orientation))
}

/// For a 16-bit BMP, the green channel's width (5 for 555, 6 for 565); the only layouts OpenCV reads.
fn bmp16_green_bits(bytes: &[u8]) -> std::result::Result<Option<u32>, String> {
    let u16_at = |at: usize| bytes.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |at: usize| bytes.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let header_size = u32_at(14).unwrap_or(0);
    if header_size < 40 || u16_at(28) != Some(16) {
        return Ok(None);
    }
    match (u32_at(30), u32_at(54), u32_at(58), u32_at(62)) {
        (Some(0), ..) => Ok(Some(5)),
        (Some(3), Some(0x7C00), Some(0x03E0), Some(0x001F)) => Ok(Some(5)),
        (Some(3), Some(0xF800), Some(0x07E0), Some(0x001F)) => Ok(Some(6)),
        _ => Err("16-bit BMP with a layout other than RGB555/RGB565 is not supported".into()),
    }
}

// ---------------------------------------------------------------------------------------------------- TIFF

/// TIFF compressions decoded losslessly by the tiff crate (none, LZW, Deflate, PackBits). JPEG-in-TIFF is
/// refused: libtiff would decode it with libjpeg, the tiff crate with another decoder.
const TIFF_COMPRESSIONS: [u16; 5] = [1, 5, 8, 32946, 32773];

/// The first page of a TIFF. OpenCV reads grey pages directly (16-bit `>> 8`, extra samples ignored) and
/// colour pages through libtiff's RGBA interface (16-bit `(v + 128) / 257`, unassociated alpha premultiplied
/// `(v * a + 127) / 255`, CMYK `(255 - k)(255 - c) / 255`). The reference reads `.tif` names with
/// IMREAD_UNCHANGED, where 16-bit colour pages come out raw (then `>> 8`, alpha untouched); both paths apply
/// the Orientation tag.
fn decode_tiff(bytes: &[u8], unchanged_path: bool, limits: &DecodeLimits) -> DecodeResult {
    use tiff::decoder::{Decoder, DecodingResult, Limits};
    use tiff::tags::Tag;
    use tiff::ColorType as T;
    let err = |e: tiff::TiffError| e.to_string();
    let mut dec = Decoder::new(Cursor::new(bytes)).map_err(err)?.with_limits(Limits::unlimited());
    let (width, height) = dec.dimensions().map_err(err)?;
    check_size(u64::from(width), u64::from(height), limits)?;
    let mut tag_u16s = |tag| -> std::result::Result<Vec<u16>, String> {
        Ok(dec.find_tag(tag).map_err(err)?.and_then(|v| v.into_u16_vec().ok()).unwrap_or_default())
    };
    let compression = tag_u16s(Tag::Compression)?.first().copied().unwrap_or(1);
    if !TIFF_COMPRESSIONS.contains(&compression) {
        return Err(format!("TIFF compression {compression} is not supported"));
    }
    match tag_u16s(Tag::PhotometricInterpretation)?.first() {
        Some(0) => return Err("WhiteIsZero TIFF is not supported".into()),
        Some(3) => return Err("palette TIFF is not supported".into()),
        _ => {}
    }
    let unassociated_alpha = tag_u16s(Tag::ExtraSamples)?.first() == Some(&2);
    let orientation = tag_u16s(Tag::Orientation)?.first().copied();
    let color = dec.colortype().map_err(err)?;
    let data = dec.read_image().map_err(err)?;
    let (w, h) = (width as usize, height as usize);
    let out = match color {
        T::Gray(1) => match data {
            DecodingResult::U8(packed) => unpack_bilevel(&packed, w, h)?,
            _ => return Err("unexpected bilevel TIFF data".into()),
        },
        T::Gray(8 | 16) => grey_tiff(data, 1, w * h)?,
        T::GrayA(8 | 16) | T::Multiband { bit_depth: 8 | 16, num_samples: 2 } => grey_tiff(data, 2, w * h)?,
        T::RGB(8 | 16) | T::RGBA(8 | 16) | T::CMYK(8) => {
            let raw16 = unchanged_path && matches!(data, DecodingResult::U16(_));
            let samples = match data {
                DecodingResult::U8(v) => v,
                DecodingResult::U16(v) if raw16 => v.iter().map(|&s| (s >> 8) as u8).collect(),
                DecodingResult::U16(v) => v.iter().map(|&s| ((u32::from(s) + 128) / 257) as u8).collect(),
                _ => return Err("unsupported TIFF sample type".into()),
            };
            let premultiply = unassociated_alpha && !raw16;
            colour_tiff(&samples, color, premultiply, w * h)?
        }
        other => return Err(format!("unsupported TIFF sample layout {other:?}")),
    };
    Ok((rgb(w, h, out), orientation))
}

fn grey_tiff(data: tiff::decoder::DecodingResult, channels: usize, n: usize) -> std::result::Result<Vec<u8>, String> {
    use tiff::decoder::DecodingResult;
    let grey: Vec<u8> = match data {
        DecodingResult::U8(v) => v.iter().step_by(channels).copied().collect(),
        DecodingResult::U16(v) => v.iter().step_by(channels).map(|&s| (s >> 8) as u8).collect(),
        _ => return Err("unsupported TIFF sample type".into()),
    };
    if grey.len() != n {
        return Err("TIFF data is shorter than its declared size".into());
    }
    Ok(grey.iter().flat_map(|&g| [g, g, g]).collect())
}

/// 1-bit rows, most significant bit first, each row padded to a byte; 1 is white.
fn unpack_bilevel(packed: &[u8], w: usize, h: usize) -> std::result::Result<Vec<u8>, String> {
    let row_bytes = w.div_ceil(8);
    if packed.len() < row_bytes * h {
        return Err("TIFF data is shorter than its declared size".into());
    }
    let mut out = Vec::with_capacity(w * h * 3);
    for row in packed.chunks_exact(row_bytes).take(h) {
        for x in 0..w {
            let v = if row[x / 8] >> (7 - x % 8) & 1 == 1 { 255 } else { 0 };
            out.extend_from_slice(&[v, v, v]);
        }
    }
    Ok(out)
}

fn colour_tiff(
    samples: &[u8],
    color: tiff::ColorType,
    premultiply: bool,
    n: usize,
) -> std::result::Result<Vec<u8>, String> {
    let channels = if matches!(color, tiff::ColorType::RGB(_)) { 3 } else { 4 };
    if samples.len() != n * channels {
        return Err("TIFF data is shorter than its declared size".into());
    }
    let is_cmyk = matches!(color, tiff::ColorType::CMYK(_));
    let mut out = Vec::with_capacity(n * 3);
    for px in samples.chunks_exact(channels) {
        if is_cmyk {
            let k = 255 - u32::from(px[3]);
            out.extend(px[..3].iter().map(|&c| (k * (255 - u32::from(c)) / 255) as u8));
        } else if premultiply {
            let a = u32::from(px[3]);
            out.extend(px[..3].iter().map(|&c| ((u32::from(c) * a + 127) / 255) as u8));
        } else {
            out.extend_from_slice(&px[..3]);
        }
    }
    Ok(out)
}

// ----------------------------------------------------------------------------------------------------- GIF

fn decode_gif(bytes: &[u8], limits: &DecodeLimits) -> DecodeResult {
    let err = |e: gif::DecodingError| e.to_string();
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::Indexed);
    let mut dec = options.read_info(Cursor::new(bytes)).map_err(err)?;
    let (width, height) = (usize::from(dec.width()), usize::from(dec.height()));
    check_size(width as u64, height as u64, limits)?;
    let global = dec.global_palette().map(<[u8]>::to_vec);
    let background = match (&global, dec.bg_color()) {
        (Some(p), Some(i)) if p.len() >= i * 3 + 3 => [p[i * 3], p[i * 3 + 1], p[i * 3 + 2]],
        _ => [0, 0, 0],
    };
    let mut canvas: Vec<u8> = background.iter().copied().cycle().take(width * height * 3).collect();
    let frame = dec.read_next_frame().map_err(err)?.ok_or("the GIF has no frame")?;
    let palette = frame.palette.as_deref().or(global.as_deref()).ok_or("the GIF frame has no palette")?;
    let (left, top, fw) = (usize::from(frame.left), usize::from(frame.top), usize::from(frame.width));
    for (i, &index) in frame.buffer.iter().enumerate() {
        let (x, y) = (left + i % fw, top + i / fw);
        if x >= width || y >= height || frame.transparent == Some(index) {
            continue;
        }
        let p = usize::from(index) * 3;
        if let Some(colour) = palette.get(p..p + 3) {
            canvas[(y * width + x) * 3..][..3].copy_from_slice(colour);
        }
    }
    Ok((rgb(width, height, canvas), None))
}
