//! Renders a few captures of the rendered cameras into one PNG, for a look at what they see.
//!
//! `cargo run --release -p sim --features render --example camera_gallery -- out.png`

#![allow(clippy::print_stdout)]

use image::{GenericImage, RgbImage};
use sim::camera::{Camera, CameraMode, Cameras, Variation};
use sim::plant::look::{Look, Person, Shape};
use sim::scene::Pose;

fn main() -> Result<(), String> {
    let out = std::env::args().nth(1).unwrap_or_else(|| "gallery.png".into());
    let cameras = Cameras::new(CameraMode::Rendered)?;
    let mut pose = Pose::empty(30);
    let looks = [
        ([200, 40, 40], Shape::Round, "V3"),
        ([40, 70, 210], Shape::Square, "12"),
        ([40, 170, 70], Shape::Tag, "B7"),
        ([230, 205, 40], Shape::Triangle, "K"),
        ([235, 235, 235], Shape::Round, "W1"),
        ([30, 30, 30], Shape::Square, "B2"),
    ];
    for (k, (colour, shape, label)) in looks.iter().enumerate() {
        pose.hooks[k] = Some(Look { colour: *colour, shape: *shape, label: (*label).into() });
    }
    let mut shots = Vec::new();
    let started = std::time::Instant::now();
    for k in 0..7 {
        pose.carousel = k as f64;
        shots.push(cameras.render(Camera::Internal, &pose, Variation::NONE, 0)?);
    }
    shots.push(cameras.render(Camera::Internal, &pose, Variation::random(3), 3)?);
    for i in 0..4 {
        pose.person = Some(Person::default_for(i));
        shots.push(cameras.render(Camera::Front, &pose, Variation::NONE, 0)?);
    }
    println!("{} captures in {:.3} s", shots.len(), started.elapsed().as_secs_f64());
    let (w, h) = shots[0].dimensions();
    let mut sheet = RgbImage::new(w * 4, h * 3);
    for (i, shot) in shots.iter().enumerate() {
        sheet.copy_from(shot, (i as u32 % 4) * w, (i as u32 / 4) * h).map_err(|e| e.to_string())?;
    }
    sheet.save(&out).map_err(|e| e.to_string())?;
    println!("{out}");
    Ok(())
}
