use spanwise::trace;

#[trace(iter)]
fn numbers() -> impl futures::Stream<Item = u32> {
    futures::stream::iter(0..3)
}

fn main() {
    let _ = numbers();
}
