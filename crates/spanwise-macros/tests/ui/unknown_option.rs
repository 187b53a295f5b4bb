use spanwise::trace;

#[trace(nmae = "typo")]
fn f(x: i32) -> i32 {
    x
}

fn main() {
    f(1);
}
