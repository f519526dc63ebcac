//! The well-formedness checker used by the chart tests must itself reject bad documents.

mod common;
use common::check_well_formed;

#[test]
fn accepts_well_formed() {
    let doc =
        "<?xml version=\"1.0\"?>\n<svg a=\"1\"><g><text x='2'>a &amp; b</text><rect/></g></svg>\n";
    assert_eq!(check_well_formed(doc), Ok("svg".to_string()));
}

#[test]
fn rejects_malformed() {
    for bad in [
        "<svg><g></svg>",
        "<svg><g></g>",
        "<svg>a & b</svg>",
        "<svg>a <b</svg>",
        "<svg x=\"<\"/>",
        "<svg x=1/>",
        "<svg x=\"1\" x=\"2\"/>",
        "<svg/><svg/>",
        "text<svg/>",
        "<svg>&bogus;</svg>",
        "",
    ] {
        assert!(check_well_formed(bad).is_err(), "accepted {bad:?}");
    }
}
