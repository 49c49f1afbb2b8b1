//! Any text handed to the scenario parser: it returns a scenario or a one-line error, never
//! panics, and what it accepts survives a round trip through result.json's serialisation.
#![no_main]

use fetchbench::scenario::Scenario;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Scenario::parse(text, "fuzz.toml") {
        Ok(scenario) => {
            let json = serde_json::to_string(&scenario).expect("a parsed scenario serialises");
            let back: Scenario = serde_json::from_str(&json).expect("and reads back");
            assert_eq!(back, scenario);
        }
        Err(e) => assert!(!e.to_string().contains('\n'), "a multi-line error: {e}"),
    }
});
