use spanwise::trace;

// The list form takes a slice, `fn(&[T]) -> R`, not a `Vec<T>`.
#[trace(output_reducer = |items: Vec<String>| items.join(","))]
fn letters() -> impl Iterator<Item = String> {
    "abc".chars().map(String::from)
}

fn main() {
    letters().count();
}
