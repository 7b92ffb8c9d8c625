fn main() {
    println!("fastsam");
}
