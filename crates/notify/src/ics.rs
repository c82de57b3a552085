//! A calendar entry (iCalendar, RFC 5545) for a pickup window or a reservation deadline,
//! attached to the e-mail so the customer can put it in their diary.
//!
//! One `VEVENT` is a dozen lines; a library for it would bring a date-time crate and a parser
//! besides the one we have, so it is written here: text escaped (§3.3.11), lines folded at
//! 75 octets (§3.1), CRLF endings, times in UTC.

use kernel::Timestamp;

/// One event to put in a calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarEvent {
    /// Stable across sends, so a second copy updates the first instead of adding one.
    pub uid: String,
    pub start: Timestamp,
    pub end: Timestamp,
    pub summary: String,
    pub location: String,
    pub description: String,
}

/// The `.ics` text.
pub fn render(event: &CalendarEvent, stamp: Timestamp) -> String {
    let lines = [
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//Relais//Notifications//EN".to_owned(),
        "METHOD:PUBLISH".to_owned(),
        "BEGIN:VEVENT".to_owned(),
        format!("UID:{}", escape(&event.uid)),
        format!("DTSTAMP:{}", utc(stamp)),
        format!("DTSTART:{}", utc(event.start)),
        format!("DTEND:{}", utc(event.end.max(event.start))),
        format!("SUMMARY:{}", escape(&event.summary)),
        format!("LOCATION:{}", escape(&event.location)),
        format!("DESCRIPTION:{}", escape(&event.description)),
        "END:VEVENT".to_owned(),
        "END:VCALENDAR".to_owned(),
    ];
    lines.iter().map(|l| fold(l)).collect()
}

/// `20261207T183000Z`.
fn utc(at: Timestamp) -> String {
    let text = at.to_text(); // 2026-12-07T18:30:00.000Z
    let digits: String = text
        .chars()
        .take(19)
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .collect();
    format!("{digits}Z")
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Lines longer than 75 octets continue on the next with a leading space, never splitting a
/// UTF-8 character; every line ends in CRLF.
fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn event() -> CalendarEvent {
        CalendarEvent {
            uid: "pickup_ready:ord_1@relais".into(),
            start: Timestamp::from_unix_ms(1_796_580_000_000),
            end: Timestamp::from_unix_ms(1_797_184_800_000),
            summary: "Retrait de la commande ord_1, code 042917".into(),
            location: "Lyon Part-Dieu, 17 rue du Docteur Bouchut; 69003 Lyon".into(),
            description: "Apportez votre code.\nMerci !".into(),
        }
    }

    #[test]
    fn an_event_has_its_times_in_utc_and_escaped_text() {
        let ics = render(&event(), Timestamp::from_unix_ms(1_796_580_000_000));
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
        assert!(ics.contains("DTSTART:20261206T180000Z\r\n"), "{ics}");
        assert!(ics.contains("DTEND:20261213T180000Z\r\n"));
        assert!(ics.contains("LOCATION:Lyon Part-Dieu\\, 17 rue du Docteur Bouchut\\; 69003 Lyon"));
        assert!(ics.contains("DESCRIPTION:Apportez votre code.\\nMerci !"));
        assert!(ics.ends_with("END:VCALENDAR\r\n"));
    }

    proptest! {
        #[test]
        fn folded_lines_stay_within_75_octets_and_unfold_to_the_original(text in "\\PC{0,300}") {
            let folded = fold(&format!("SUMMARY:{text}"));
            for line in folded.split("\r\n") {
                prop_assert!(line.len() <= 75);
            }
            let unfolded = folded.trim_end_matches("\r\n").replace("\r\n ", "");
            prop_assert_eq!(unfolded, format!("SUMMARY:{text}"));
        }
    }
}
