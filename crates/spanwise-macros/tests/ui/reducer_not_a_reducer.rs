use spanwise::trace;

#[trace(reducer = 5)]
fn numbers() -> impl Iterator<Item = u32> {
    0..3
}

fn main() {
    numbers().count();
}
