use spanwise::trace;

#[trace(name = "a", span_type = "func", name = "b")]
fn f(x: i32) -> i32 {
    x
}

fn main() {
    f(1);
}
