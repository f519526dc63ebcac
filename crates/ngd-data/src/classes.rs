//! Parsing and validating class lists.

use std::collections::HashSet;

use crate::cifar::CIFAR10_CLASSES;
use crate::{DataError, DatasetName};

/// Number of classes of both supported datasets.
const N_CLASSES: usize = 10;

/// Parses a comma-separated class list such as `"0,7"`; for CIFAR-10 class names such as
/// `"airplane,horse"` (case-insensitive) are accepted too, and may be mixed with numbers.
///
/// `"all"` selects every class, 0..=9.
///
/// The order is kept: it decides the targets (see [`crate::DataConfig::classes`]).
/// Errors: an unknown class (the message lists the valid ones), a duplicate, or fewer than
/// two classes.
pub fn parse_classes(dataset: DatasetName, spec: &str) -> Result<Vec<usize>, DataError> {
    if spec.trim().eq_ignore_ascii_case("all") {
        return Ok((0..N_CLASSES).collect());
    }
    let classes = spec
        .split(',')
        .map(|token| parse_class(dataset, token.trim()))
        .collect::<Result<Vec<_>, _>>()?;
    validate_classes(dataset, &classes)?;
    Ok(classes)
}

/// Parses one class token: a number 0..=9, or for CIFAR-10 a class name.
fn parse_class(dataset: DatasetName, token: &str) -> Result<usize, DataError> {
    let by_number = token.parse::<usize>().ok().filter(|&c| c < N_CLASSES);
    let by_name = match dataset {
        DatasetName::Mnist => None,
        DatasetName::Cifar10 => CIFAR10_CLASSES
            .iter()
            .position(|name| name.eq_ignore_ascii_case(token)),
    };
    by_number
        .or(by_name)
        .ok_or_else(|| unknown_class(dataset, token))
}

/// The error for a class the dataset does not have.
fn unknown_class(dataset: DatasetName, given: &str) -> DataError {
    DataError::UnknownClass {
        dataset,
        given: given.to_string(),
        valid: valid_classes(dataset),
    }
}

/// Description of the valid classes of `dataset`, for error messages.
fn valid_classes(dataset: DatasetName) -> String {
    match dataset {
        DatasetName::Mnist => "the digits 0 to 9".to_string(),
        DatasetName::Cifar10 => format!(
            "0 to 9 or the names {}",
            CIFAR10_CLASSES
                .iter()
                .enumerate()
                .map(|(i, n)| format!("{n} ({i})"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Checks that `classes` are in range, distinct and at least two.
pub(crate) fn validate_classes(dataset: DatasetName, classes: &[usize]) -> Result<(), DataError> {
    let mut seen = HashSet::new();
    for &c in classes {
        if c >= N_CLASSES {
            return Err(unknown_class(dataset, &c.to_string()));
        }
        if !seen.insert(c) {
            return Err(DataError::DuplicateClass {
                dataset,
                class: dataset.all_class_names()[c].clone(),
            });
        }
    }
    if classes.len() < 2 {
        return Err(DataError::TooFewClasses { got: classes.len() });
    }
    Ok(())
}

/// The selected classes as a readable list, e.g. `"0, 7"` or `"airplane, horse"`.
pub(crate) fn describe(dataset: DatasetName, classes: &[usize]) -> String {
    let names = dataset.all_class_names();
    classes
        .iter()
        .map(|&c| names[c].clone())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_numbers_and_names_in_order() {
        assert_eq!(
            parse_classes(DatasetName::Mnist, "0,7").unwrap(),
            vec![0, 7]
        );
        assert_eq!(
            parse_classes(DatasetName::Mnist, " 7 , 0 ").unwrap(),
            vec![7, 0]
        );
        assert_eq!(
            parse_classes(DatasetName::Cifar10, "airplane,Horse").unwrap(),
            vec![0, 7]
        );
        assert_eq!(
            parse_classes(DatasetName::Cifar10, "9,cat").unwrap(),
            vec![9, 3]
        );
        let all: Vec<usize> = (0..10).collect();
        assert_eq!(parse_classes(DatasetName::Mnist, "all").unwrap(), all);
    }

    #[test]
    fn rejects_unknown_classes_naming_the_valid_ones() {
        let e = parse_classes(DatasetName::Mnist, "0,10").unwrap_err();
        assert!(matches!(e, DataError::UnknownClass { .. }), "{e:?}");
        assert!(
            e.to_string().contains("'10'") && e.to_string().contains("0 to 9"),
            "{e}"
        );
        let e = parse_classes(DatasetName::Mnist, "0,airplane").unwrap_err();
        assert!(matches!(e, DataError::UnknownClass { .. }), "{e:?}");
        let e = parse_classes(DatasetName::Cifar10, "airplane,zebra").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("'zebra'") && msg.contains("truck (9)"),
            "{msg}"
        );
        assert!(parse_classes(DatasetName::Cifar10, "0,,1").is_err());
    }

    #[test]
    fn rejects_duplicates_and_single_classes() {
        let e = parse_classes(DatasetName::Mnist, "3,3").unwrap_err();
        assert!(matches!(e, DataError::DuplicateClass { .. }), "{e:?}");
        let e = parse_classes(DatasetName::Cifar10, "horse,7").unwrap_err();
        assert!(
            e.to_string().contains("'horse' is listed more than once"),
            "{e}"
        );
        let e = parse_classes(DatasetName::Mnist, "3").unwrap_err();
        assert!(matches!(e, DataError::TooFewClasses { got: 1 }), "{e:?}");
    }

    #[test]
    fn validate_rejects_out_of_range() {
        let e = validate_classes(DatasetName::Cifar10, &[0, 10]).unwrap_err();
        assert!(matches!(e, DataError::UnknownClass { .. }), "{e:?}");
        assert!(validate_classes(DatasetName::Cifar10, &[0, 9]).is_ok());
    }
}
