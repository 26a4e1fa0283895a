//! The request parameters Twilio's API definition gives the two endpoints the fake serves:
//! twilio/twilio-oai `spec/json/twilio_api_v2010.json` at commit
//! d50069b44ea8cd23141385bdb6db48f16ff75bb5 (2026-04-14), path
//! `/2010-04-01/Accounts/{AccountSid}/Messages.json`.
//!
//! Twilio itself passes over a parameter it does not know, so a misspelled name (`Statuscallback`,
//! `DateSent>=`) fails silently there. The fake refuses it instead, with a 400 naming it, so that
//! every test that sends or lists through the fake also checks our names against the definition.
//! `the_lists_equal_twilios_definition` compares these lists with the document itself when it is
//! at hand (`TWILIO_OPENAPI_JSON=path`).

/// `POST …/Messages.json`: the properties of its form body.
pub const CREATE_MESSAGE: &[&str] = &[
    "To",
    "StatusCallback",
    "ApplicationSid",
    "MaxPrice",
    "ProvideFeedback",
    "Attempt",
    "ValidityPeriod",
    "ForceDelivery",
    "ContentRetention",
    "AddressRetention",
    "SmartEncoded",
    "PersistentAction",
    "TrafficType",
    "ShortenUrls",
    "ScheduleType",
    "SendAt",
    "SendAsMms",
    "ContentVariables",
    "RiskCheck",
    "From",
    "FallbackFrom",
    "MessagingServiceSid",
    "Body",
    "MediaUrl",
    "ContentSid",
];

/// `GET …/Messages.json`: its query parameters (`AccountSid` is in the path).
pub const LIST_MESSAGES: &[&str] = &[
    "To",
    "From",
    "DateSent",
    "DateSent<",
    "DateSent>",
    "PageSize",
    "Page",
    "PageToken",
];

/// The first parameter name of `params` that `allowed` does not list.
pub fn unknown_parameter<'a>(params: &'a [(String, String)], allowed: &[&str]) -> Option<&'a str> {
    params
        .iter()
        .map(|(name, _)| name.as_str())
        .find(|name| !allowed.contains(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelled_name_is_found_and_a_listed_one_is_not() {
        let params = |names: &[&str]| -> Vec<(String, String)> {
            names.iter().map(|n| (n.to_string(), "x".into())).collect()
        };
        assert_eq!(
            unknown_parameter(&params(&["To", "Body", "StatusCallback"]), CREATE_MESSAGE),
            None
        );
        assert_eq!(
            unknown_parameter(&params(&["To", "Statuscallback"]), CREATE_MESSAGE),
            Some("Statuscallback")
        );
        assert_eq!(
            unknown_parameter(&params(&["To", "DateSent>="]), LIST_MESSAGES),
            Some("DateSent>=")
        );
    }

    fn names(value: &serde_json::Value) -> Vec<String> {
        let mut names: Vec<String> = value
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .or_else(|| value.as_object().map(|o| o.keys().cloned().collect()))
            .unwrap_or_default();
        names.sort();
        names
    }

    fn sorted(list: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    }

    #[test]
    #[ignore = "needs Twilio's API definition: TWILIO_OPENAPI_JSON=path/to/twilio_api_v2010.json"]
    fn the_lists_equal_twilios_definition() {
        let path = std::env::var("TWILIO_OPENAPI_JSON")
            .expect("TWILIO_OPENAPI_JSON names twilio_api_v2010.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let doc: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        let messages = &doc["paths"]["/2010-04-01/Accounts/{AccountSid}/Messages.json"];
        let form = &messages["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
            ["schema"]["properties"];
        assert_eq!(names(form), sorted(CREATE_MESSAGE));
        let query: Vec<serde_json::Value> = messages["get"]["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .filter(|p| p["in"] == "query")
            .map(|p| p["name"].clone())
            .collect();
        assert_eq!(
            names(&serde_json::Value::Array(query)),
            sorted(LIST_MESSAGES)
        );
    }
}
