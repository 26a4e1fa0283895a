//! Countries, as far as texting a code goes: which country a number is in, and which country a
//! clinic is in. A clinic texts codes only to the countries it allows (by default its own), so a
//! caller cannot make it pay for texts to premium foreign ranges (SMS pumping).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ParseError;
use crate::phone::PhoneNumber;

/// An ISO 3166-1 alpha-2 country code, upper case (`US`, `CA`, `GB`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Country([u8; 2]);

impl Country {
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        let s = input.trim();
        match s.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                let c = Self([a.to_ascii_uppercase(), b.to_ascii_uppercase()]);
                if NANP_AREAS
                    .iter()
                    .map(|(_, c)| *c)
                    .chain(CALLING_CODES.iter().map(|(_, c)| *c))
                    .any(|known| known == c.as_str())
                {
                    Ok(c)
                } else {
                    Err(ParseError::new(
                        "country",
                        format!(
                            "{s:?} is not a country we can text (use a code such as US, CA or GB)"
                        ),
                    ))
                }
            }
            _ => Err(ParseError::new(
                "country",
                "must be a two-letter ISO code such as US, CA or GB",
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    /// The country of a number, from its country calling code (and for +1, its area code).
    /// `None` for the international networks that belong to no country (+800, +870, +881-+883,
    /// satellite phones and global services), and for codes we do not know.
    pub fn of_number(number: &PhoneNumber) -> Option<Self> {
        let digits = &number.as_str()[1..];
        if let Some(rest) = digits.strip_prefix('1') {
            let area = rest.get(..3)?;
            let code = NANP_AREAS
                .iter()
                .find(|(a, _)| *a == area)
                .map(|(_, c)| *c)
                .unwrap_or("US");
            return Self::known(code);
        }
        for len in (1..=4).rev() {
            let Some(prefix) = digits.get(..len) else {
                continue;
            };
            if let Some((_, c)) = CALLING_CODES.iter().find(|(p, _)| *p == prefix) {
                return Self::known(c);
            }
        }
        None
    }

    /// The country of an IANA time zone, for the zones where clinics are most likely to be.
    pub fn of_zone(zone: &str) -> Option<Self> {
        ZONES
            .iter()
            .find(|(z, _)| *z == zone)
            .and_then(|(_, c)| Self::known(c))
    }

    fn known(code: &str) -> Option<Self> {
        match code.as_bytes() {
            [a, b] => Some(Self([*a, *b])),
            _ => None,
        }
    }
}

impl fmt::Debug for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Country({})", self.as_str())
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for Country {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Country> for String {
    fn from(c: Country) -> String {
        c.as_str().to_owned()
    }
}

/// Area codes of the North American Numbering Plan (+1) outside the United States. Any other
/// area code is read as the United States.
#[rustfmt::skip]
const NANP_AREAS: &[(&str, &str)] = &[
    // Canada
    ("204", "CA"), ("226", "CA"), ("236", "CA"), ("249", "CA"), ("250", "CA"), ("257", "CA"),
    ("263", "CA"), ("289", "CA"), ("306", "CA"), ("343", "CA"), ("354", "CA"), ("365", "CA"),
    ("367", "CA"), ("368", "CA"), ("382", "CA"), ("387", "CA"), ("403", "CA"), ("416", "CA"),
    ("418", "CA"), ("428", "CA"), ("431", "CA"), ("437", "CA"), ("438", "CA"), ("450", "CA"),
    ("460", "CA"), ("468", "CA"), ("474", "CA"), ("506", "CA"), ("514", "CA"), ("519", "CA"),
    ("548", "CA"), ("579", "CA"), ("581", "CA"), ("584", "CA"), ("587", "CA"), ("604", "CA"),
    ("613", "CA"), ("639", "CA"), ("647", "CA"), ("672", "CA"), ("683", "CA"), ("705", "CA"),
    ("709", "CA"), ("742", "CA"), ("753", "CA"), ("778", "CA"), ("780", "CA"), ("782", "CA"),
    ("807", "CA"), ("819", "CA"), ("825", "CA"), ("867", "CA"), ("873", "CA"), ("879", "CA"),
    ("902", "CA"), ("905", "CA"), ("942", "CA"),
    // The Caribbean and the Pacific
    ("242", "BS"), ("246", "BB"), ("264", "AI"), ("268", "AG"), ("284", "VG"), ("340", "VI"),
    ("345", "KY"), ("441", "BM"), ("473", "GD"), ("649", "TC"), ("658", "JM"), ("876", "JM"),
    ("664", "MS"), ("670", "MP"), ("671", "GU"), ("684", "AS"), ("721", "SX"), ("758", "LC"),
    ("767", "DM"), ("784", "VC"), ("787", "PR"), ("939", "PR"), ("809", "DO"), ("829", "DO"),
    ("849", "DO"), ("868", "TT"), ("869", "KN"),
];

/// Country calling codes other than +1, each with the country that uses it (the main one where
/// several share a code). Codes of no country (+800, +808, +870, +878, +881, +882, +883, +888,
/// +979) are deliberately absent.
#[rustfmt::skip]
const CALLING_CODES: &[(&str, &str)] = &[
    ("7", "RU"), ("20", "EG"), ("27", "ZA"), ("30", "GR"), ("31", "NL"), ("32", "BE"),
    ("33", "FR"), ("34", "ES"), ("36", "HU"), ("39", "IT"), ("40", "RO"), ("41", "CH"),
    ("43", "AT"), ("44", "GB"), ("45", "DK"), ("46", "SE"), ("47", "NO"), ("48", "PL"),
    ("49", "DE"), ("51", "PE"), ("52", "MX"), ("53", "CU"), ("54", "AR"), ("55", "BR"),
    ("56", "CL"), ("57", "CO"), ("58", "VE"), ("60", "MY"), ("61", "AU"), ("62", "ID"),
    ("63", "PH"), ("64", "NZ"), ("65", "SG"), ("66", "TH"), ("81", "JP"), ("82", "KR"),
    ("84", "VN"), ("86", "CN"), ("90", "TR"), ("91", "IN"), ("92", "PK"), ("93", "AF"),
    ("94", "LK"), ("95", "MM"), ("98", "IR"), ("211", "SS"), ("212", "MA"), ("213", "DZ"),
    ("216", "TN"), ("218", "LY"), ("220", "GM"), ("221", "SN"), ("222", "MR"), ("223", "ML"),
    ("224", "GN"), ("225", "CI"), ("226", "BF"), ("227", "NE"), ("228", "TG"), ("229", "BJ"),
    ("230", "MU"), ("231", "LR"), ("232", "SL"), ("233", "GH"), ("234", "NG"), ("235", "TD"),
    ("236", "CF"), ("237", "CM"), ("238", "CV"), ("239", "ST"), ("240", "GQ"), ("241", "GA"),
    ("242", "CG"), ("243", "CD"), ("244", "AO"), ("245", "GW"), ("246", "IO"), ("248", "SC"),
    ("249", "SD"), ("250", "RW"), ("251", "ET"), ("252", "SO"), ("253", "DJ"), ("254", "KE"),
    ("255", "TZ"), ("256", "UG"), ("257", "BI"), ("258", "MZ"), ("260", "ZM"), ("261", "MG"),
    ("262", "RE"), ("263", "ZW"), ("264", "NA"), ("265", "MW"), ("266", "LS"), ("267", "BW"),
    ("268", "SZ"), ("269", "KM"), ("290", "SH"), ("291", "ER"), ("297", "AW"), ("298", "FO"),
    ("299", "GL"), ("350", "GI"), ("351", "PT"), ("352", "LU"), ("353", "IE"), ("354", "IS"),
    ("355", "AL"), ("356", "MT"), ("357", "CY"), ("358", "FI"), ("359", "BG"), ("370", "LT"),
    ("371", "LV"), ("372", "EE"), ("373", "MD"), ("374", "AM"), ("375", "BY"), ("376", "AD"),
    ("377", "MC"), ("378", "SM"), ("380", "UA"), ("381", "RS"), ("382", "ME"), ("383", "XK"),
    ("385", "HR"), ("386", "SI"), ("387", "BA"), ("389", "MK"), ("420", "CZ"), ("421", "SK"),
    ("423", "LI"), ("500", "FK"), ("501", "BZ"), ("502", "GT"), ("503", "SV"), ("504", "HN"),
    ("505", "NI"), ("506", "CR"), ("507", "PA"), ("508", "PM"), ("509", "HT"), ("590", "GP"),
    ("591", "BO"), ("592", "GY"), ("593", "EC"), ("594", "GF"), ("595", "PY"), ("596", "MQ"),
    ("597", "SR"), ("598", "UY"), ("599", "CW"), ("670", "TL"), ("672", "NF"), ("673", "BN"),
    ("674", "NR"), ("675", "PG"), ("676", "TO"), ("677", "SB"), ("678", "VU"), ("679", "FJ"),
    ("680", "PW"), ("681", "WF"), ("682", "CK"), ("683", "NU"), ("685", "WS"), ("686", "KI"),
    ("687", "NC"), ("688", "TV"), ("689", "PF"), ("690", "TK"), ("691", "FM"), ("692", "MH"),
    ("850", "KP"), ("852", "HK"), ("853", "MO"), ("855", "KH"), ("856", "LA"), ("880", "BD"),
    ("886", "TW"), ("960", "MV"), ("961", "LB"), ("962", "JO"), ("963", "SY"), ("964", "IQ"),
    ("965", "KW"), ("966", "SA"), ("967", "YE"), ("968", "OM"), ("970", "PS"), ("971", "AE"),
    ("972", "IL"), ("973", "BH"), ("974", "QA"), ("975", "BT"), ("976", "MN"), ("977", "NP"),
    ("992", "TJ"), ("993", "TM"), ("994", "AZ"), ("995", "GE"), ("996", "KG"), ("998", "UZ"),
    // Needed so that the NANP countries parse as countries a clinic may allow.
    ("1", "US"),
];

/// Time zones and their countries, for a clinic that has no number to tell its country by.
#[rustfmt::skip]
const ZONES: &[(&str, &str)] = &[
    ("America/New_York", "US"), ("America/Chicago", "US"), ("America/Denver", "US"),
    ("America/Phoenix", "US"), ("America/Los_Angeles", "US"), ("America/Anchorage", "US"),
    ("America/Detroit", "US"), ("America/Boise", "US"), ("America/Indiana/Indianapolis", "US"),
    ("America/Kentucky/Louisville", "US"), ("Pacific/Honolulu", "US"), ("US/Eastern", "US"),
    ("US/Central", "US"), ("US/Mountain", "US"), ("US/Pacific", "US"),
    ("America/Toronto", "CA"), ("America/Vancouver", "CA"), ("America/Edmonton", "CA"),
    ("America/Winnipeg", "CA"), ("America/Halifax", "CA"), ("America/St_Johns", "CA"),
    ("America/Regina", "CA"), ("America/Mexico_City", "MX"), ("America/Puerto_Rico", "PR"),
    ("America/Sao_Paulo", "BR"), ("America/Argentina/Buenos_Aires", "AR"),
    ("America/Bogota", "CO"), ("America/Lima", "PE"), ("America/Santiago", "CL"),
    ("Europe/London", "GB"), ("Europe/Dublin", "IE"), ("Europe/Paris", "FR"),
    ("Europe/Berlin", "DE"), ("Europe/Madrid", "ES"), ("Europe/Rome", "IT"),
    ("Europe/Amsterdam", "NL"), ("Europe/Brussels", "BE"), ("Europe/Zurich", "CH"),
    ("Europe/Vienna", "AT"), ("Europe/Stockholm", "SE"), ("Europe/Oslo", "NO"),
    ("Europe/Copenhagen", "DK"), ("Europe/Helsinki", "FI"), ("Europe/Warsaw", "PL"),
    ("Europe/Prague", "CZ"), ("Europe/Lisbon", "PT"), ("Europe/Athens", "GR"),
    ("Europe/Budapest", "HU"), ("Europe/Bucharest", "RO"), ("Europe/Kyiv", "UA"),
    ("Europe/Istanbul", "TR"), ("Asia/Tokyo", "JP"), ("Asia/Seoul", "KR"),
    ("Asia/Singapore", "SG"), ("Asia/Hong_Kong", "HK"), ("Asia/Kolkata", "IN"),
    ("Asia/Dubai", "AE"), ("Asia/Jerusalem", "IL"), ("Asia/Manila", "PH"),
    ("Australia/Sydney", "AU"), ("Australia/Melbourne", "AU"), ("Australia/Brisbane", "AU"),
    ("Australia/Perth", "AU"), ("Australia/Adelaide", "AU"), ("Pacific/Auckland", "NZ"),
    ("Africa/Johannesburg", "ZA"), ("Africa/Lagos", "NG"), ("Africa/Nairobi", "KE"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn of(n: &str) -> Option<String> {
        Country::of_number(&PhoneNumber::parse(n).unwrap()).map(|c| c.to_string())
    }

    #[test]
    fn numbers_have_countries() {
        assert_eq!(of("+19254207621").as_deref(), Some("US"));
        assert_eq!(of("+14165550123").as_deref(), Some("CA"));
        assert_eq!(of("+18765550123").as_deref(), Some("JM"));
        assert_eq!(of("+442079460958").as_deref(), Some("GB"));
        assert_eq!(of("+33612345678").as_deref(), Some("FR"));
        assert_eq!(of("+35312345678").as_deref(), Some("IE"));
        assert_eq!(of("+79161234567").as_deref(), Some("RU"));
        // International networks belong to no country.
        assert_eq!(of("+88216123456"), None);
        assert_eq!(of("+8835100123456"), None);
        assert_eq!(of("+80012345678"), None);
    }

    #[test]
    fn countries_parse_from_their_codes_only() {
        assert_eq!(Country::parse(" us ").unwrap().as_str(), "US");
        assert_eq!(Country::parse("CA").unwrap().as_str(), "CA");
        assert_eq!(Country::parse("JM").unwrap().as_str(), "JM");
        for bad in ["", "U", "USA", "ZZ", "1A", "+1"] {
            assert!(Country::parse(bad).is_err(), "{bad}");
        }
        let c: Country = serde_json::from_str("\"gb\"").unwrap();
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"GB\"");
    }

    #[test]
    fn zones_have_countries() {
        assert_eq!(Country::of_zone("America/Toronto").unwrap().as_str(), "CA");
        assert_eq!(Country::of_zone("America/New_York").unwrap().as_str(), "US");
        assert_eq!(Country::of_zone("Antarctica/Troll"), None);
    }
}
