//! Segment once, then answer prompts from the cached segmentation.
//!
//!     cargo run --release -p fastsam --example prompt -- FastSAM-s.pt bus.jpg 400 500
//!
//! Prints every object, then the objects selected by a foreground point at (X, Y) and by a box around it.

use std::time::Instant;

use fastsam::{FastSam, PointLabel, Prompt};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, image, x, y] = args.as_slice() else {
        return Err("usage: prompt MODEL IMAGE X Y".into());
    };
    let (x, y): (f64, f64) = (x.parse()?, y.parse()?);

    let model = FastSam::load(model)?;
    let image = fastsam::image::open(image, &Default::default())?;
    let segmentation = model.segment(&image)?;
    println!("{} objects in {}x{}", segmentation.len(), segmentation.width(), segmentation.height());

    for prompt in [
        Prompt::default().point(x, y, PointLabel::Foreground),
        Prompt::default().bbox(x - 50.0, y - 50.0, x + 50.0, y + 50.0),
    ] {
        let started = Instant::now();
        let selection = segmentation.select(&prompt)?;
        println!("{prompt:?}: {:?} in {:.3} ms", selection.indices, started.elapsed().as_secs_f64() * 1e3);
        for &i in &selection.indices {
            let object = &segmentation.objects()[i];
            println!("  #{i}: box {:?}, score {:.3}, {} px", object.bbox, object.score, object.mask.area());
        }
    }
    Ok(())
}
