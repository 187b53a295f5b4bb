use spanwise::trace;

#[trace(output_reducer = |x: &[u32]| x.len(), reducer = 5)]
fn numbers() -> impl Iterator<Item = u32> {
    0..3
}

fn main() {
    numbers().count();
}
