use super::*;
use crate::checks::TimeUnit;

fn cond(text: &str) -> Condition {
    text.parse().unwrap()
}

#[test]
fn parses_the_documented_examples() {
    assert_eq!(cond("status == 200").operand, Some(Operand::Integer(200)));
    let header = cond("header.Content-Type contains json");
    assert_eq!(header.subject, Subject::Header("content-type".into()));
    assert_eq!(header.operand, Some(Operand::Text("json".into())));
    let body = cond(r#"body.$.status == "ok""#);
    assert_eq!(body.subject, Subject::BodyJson("$.status".into()));
    assert_eq!(body.operand, Some(Operand::Text("ok".into())));
    let latency = cond("latency < 500ms");
    assert_eq!(
        (latency.op, latency.operand),
        (
            CmpOp::Lt,
            Some(Operand::Duration(TimeSpan::new(500, TimeUnit::Ms)))
        )
    );
    assert_eq!(
        cond("cert_expiry > 14d").operand,
        Some(Operand::Duration(TimeSpan::new(14, TimeUnit::D)))
    );
    assert_eq!(cond("body.$.ok == true").operand, Some(Operand::Bool(true)));
    assert_eq!(
        cond("body.$.ratio >= 0.5").operand,
        Some(Operand::Decimal(0.5))
    );
    assert_eq!(cond("header.x-request-id exists").operand, None);
    assert_eq!(
        cond("body.$.name == 'single'").operand,
        Some(Operand::Text("single".into()))
    );
}

#[test]
fn operators_without_spaces_and_word_boundaries() {
    assert_eq!(cond("status==200"), cond("status == 200"));
    assert_eq!(cond("latency<=2s").op, CmpOp::Le);
    assert!("header.x containsjson".parse::<Condition>().is_err());
    assert!("header.x existsnot".parse::<Condition>().is_err());
}

#[test]
fn display_round_trips() {
    for text in [
        "status != 500",
        "latency <= 2s",
        "cert_expiry >= 30d",
        "header.content-type contains \"json\"",
        "body contains \"say \\\"hi\\\"\"",
        "body.$.items[0].id == 7",
        "body.$.x == 2.0",
        "body.$.x != null",
        "header.etag exists",
        "latency < 1h",
        "latency > 5m",
    ] {
        let parsed = cond(text);
        assert_eq!(cond(&parsed.to_string()), parsed, "{text}");
    }
}

#[test]
fn rejects_nonsense_with_a_message() {
    for text in [
        "status",
        "status == ok",
        "status == 42",
        "latency < 500",
        "latency < 500 ms",
        "cert_expiry > 14w",
        "header. exists",
        "body.status == 1",
        "body > 3",
        "uptime > 1d",
        "status exists",
        "header.x < abc",
        "body.$.x contains 3",
        "header.x == \"open",
        "header.x == inf",
        "status ~ 200",
    ] {
        let error = text.parse::<Condition>();
        if text == "header.x == inf" {
            // `inf` is a bare word, i.e. text, never a float.
            assert_eq!(error.unwrap().operand, Some(Operand::Text("inf".into())));
            continue;
        }
        let message = error.expect_err(text).to_string();
        assert!(message.contains("condition"), "{message}");
    }
}

#[test]
fn time_spans_convert() {
    assert_eq!("15m".parse::<TimeSpan>().unwrap().as_millis(), 900_000);
    assert_eq!("2h".parse::<TimeSpan>().unwrap().to_std().as_secs(), 7_200);
    assert!("m".parse::<TimeSpan>().is_err());
    assert!("-1s".parse::<TimeSpan>().is_err());
    assert_eq!(
        serde_json::to_string(&TimeSpan::new(3, TimeUnit::D)).unwrap(),
        "\"3d\""
    );
}

#[test]
fn value_conditions() {
    let c: ValueCondition = "< 90000".parse().unwrap();
    assert_eq!((c.op, c.value), (CmpOp::Lt, 90000.0));
    assert_eq!(c.to_string().parse::<ValueCondition>().unwrap(), c);
    assert!("contains 3".parse::<ValueCondition>().is_err());
    assert!("> soon".parse::<ValueCondition>().is_err());
}
