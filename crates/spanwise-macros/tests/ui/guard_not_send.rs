fn main() {
    let guard = spanwise::start_span("outer");
    std::thread::spawn(move || {
        guard.set_outputs(1);
    })
    .join()
    .unwrap();
}
