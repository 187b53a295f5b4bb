use spanwise::trace;

const NAME: &str = "my_span";

#[trace(name = NAME)]
fn f(x: i32) -> i32 {
    x
}

fn main() {
    f(1);
}
