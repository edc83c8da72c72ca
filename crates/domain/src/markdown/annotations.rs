//! Annotations at the end of an item line: `<!-- check: ... -->`, `<!-- manual: ... -->`, and
//! the state note that [`super::to_markdown_with_state`] appends.

use crate::checks::{CheckError, CheckSpec, tokenize};
use crate::model::Item;

/// Starts the state note written by export; import drops everything from here to the end of
/// the line, so an exported report re-imports to the same items.
pub const STATE_NOTE_MARKER: &str = "<!-- state -->";

/// Settings read from the annotations of one item.
#[derive(Debug, Default, PartialEq)]
pub struct Annotations {
    pub check: Option<CheckSpec>,
    pub re_attest_days: Option<u32>,
    pub requires_comment: bool,
}

impl Annotations {
    /// Whether these settings are what the item currently says (so its written tail is current).
    pub fn matches(&self, item: &Item) -> bool {
        self.check == item.check
            && self.re_attest_days == item.re_attest_days
            && self.requires_comment == item.requires_comment
    }
}

/// Splits an item body (the line after `[ ]` and its gap) into the text length and the
/// annotations that follow it. Unrecognised comments stay part of the text.
pub fn split(body: &str) -> Result<(usize, Annotations), CheckError> {
    let mut found = Annotations::default();
    let mut seen_check = false;
    let mut seen_manual = false;
    let mut end = body.len();
    loop {
        let trimmed = body[..end].trim_end();
        let Some(close) = trimmed.strip_suffix("-->") else {
            break;
        };
        let Some(open) = close.rfind("<!--") else {
            break;
        };
        let inner = close[open + 4..].trim();
        if let Some(definition) = inner.strip_prefix("check:") {
            if seen_check {
                return Err(CheckError::Syntax(
                    "an item takes one check annotation".into(),
                ));
            }
            seen_check = true;
            found.check = Some(CheckSpec::from_definition(definition)?);
        } else if let Some(settings) = inner.strip_prefix("manual:") {
            if seen_manual {
                return Err(CheckError::Syntax(
                    "an item takes one manual annotation".into(),
                ));
            }
            seen_manual = true;
            read_manual(settings, &mut found)?;
        } else {
            break;
        }
        end = open;
    }
    Ok((body[..end].trim_end().len(), found))
}

/// `<!-- manual: re_attest_days=90 requires_comment=true -->`: attestation settings.
fn read_manual(settings: &str, found: &mut Annotations) -> Result<(), CheckError> {
    for (name, value) in tokenize(settings)? {
        let invalid = |message: &str| CheckError::InvalidParameter {
            name: name.clone(),
            message: format!("\"{value}\" {message}"),
        };
        match name.as_str() {
            "re_attest_days" => {
                let days: u32 = value
                    .parse()
                    .map_err(|_| invalid("is not a whole number"))?;
                if !(1..=3650).contains(&days) {
                    return Err(invalid("is out of range 1..=3650"));
                }
                found.re_attest_days = Some(days);
            }
            "requires_comment" => {
                found.requires_comment = match value.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(invalid("is not true or false")),
                }
            }
            _ => {
                return Err(CheckError::UnknownParameter {
                    kind: "manual",
                    name: name.clone(),
                    expected: "re_attest_days, requires_comment".into(),
                });
            }
        }
    }
    Ok(())
}

/// The canonical tail for an item whose settings changed since import.
pub fn render(item: &Item) -> String {
    let mut tail = String::new();
    if let Some(check) = &item.check {
        tail.push(' ');
        tail.push_str(&check.to_annotation());
    }
    let mut manual = Vec::new();
    if let Some(days) = item.re_attest_days {
        manual.push(format!("re_attest_days={days}"));
    }
    if item.requires_comment {
        manual.push("requires_comment=true".to_owned());
    }
    if !manual.is_empty() {
        tail.push_str(&format!(" <!-- manual: {} -->", manual.join(" ")));
    }
    tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_text_from_annotations() {
        let body = "Health works <!-- check: health -->  <!-- manual: re_attest_days=30 -->  ";
        let (len, found) = split(body).unwrap();
        assert_eq!(&body[..len], "Health works");
        assert_eq!(found.check.map(|c| c.kind()), Some("health"));
        assert_eq!(found.re_attest_days, Some(30));
    }

    #[test]
    fn leaves_other_comments_and_odd_text_alone() {
        for body in [
            "a <!-- note -->",
            "a -->",
            "<!-->",
            "a <!--->",
            "x <!-- check",
        ] {
            let (len, found) = split(body).unwrap();
            assert_eq!(len, body.trim_end().len(), "{body}");
            assert_eq!(found, Annotations::default());
        }
    }

    #[test]
    fn rejects_duplicates_and_bad_settings() {
        assert!(split("a <!-- check: health --> <!-- check: tls -->").is_err());
        assert!(split("a <!-- manual: re_attest_days=0 -->").is_err());
        assert!(split("a <!-- manual: requires_comment=yes -->").is_err());
        assert!(split("a <!-- manual: often=1 -->").is_err());
    }
}
