//! The dev server and the SMS stand-in as `cargo xtask dev` left them, spoken to as Vapi would.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use serde_json::{Value, json};

use crate::dev::{self, DEMO_CALLED_NUMBER, DEMO_VAPI_PHONE_NUMBER_ID};
use crate::http::{Request, query_escape, truncate};
use crate::util::{self, random_hex};

/// The dev server and the stand-in, as `cargo xtask dev` left them in target/dev.
pub(super) struct Dev {
    pub(super) api: String,
    pub(super) vapi_secret: String,
    pub(super) admin_token: String,
    pub(super) standin: String,
    pub(super) standin_sid: String,
    pub(super) standin_token: String,
}

/// One simulated call: its ids and the numbers on each end.
pub(super) struct Call {
    pub(super) id: String,
    pub(super) caller: String,
}

impl Call {
    pub(super) fn new() -> Result<Self> {
        // A fresh caller number each time: the OTP send limits count per number.
        Ok(Self {
            id: uuid_like()?,
            caller: format!("+1555012{:04}", util::random_below(10_000)?),
        })
    }

    pub(super) fn context(&self) -> Value {
        json!({
            "call": {
                "id": self.id,
                "orgId": "00000000-0000-4000-8000-00000000d3e0",
                "type": "inboundPhoneCall",
                "status": "in-progress",
                "phoneCallProvider": "twilio",
                "phoneCallTransport": "pstn",
                "phoneNumberId": DEMO_VAPI_PHONE_NUMBER_ID,
                "customer": { "number": self.caller },
            },
            "phoneNumber": {
                "id": DEMO_VAPI_PHONE_NUMBER_ID,
                "number": DEMO_CALLED_NUMBER,
                "provider": "twilio",
            },
            "customer": { "number": self.caller },
        })
    }

    /// A server message of `kind` with this call's context and `fields`.
    pub(super) fn message(&self, kind: &str, fields: Value) -> Value {
        let mut m = self.context();
        let obj = m.as_object_mut().expect("object");
        obj.insert("type".into(), json!(kind));
        obj.insert(
            "timestamp".into(),
            json!(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_millis() as u64
            ),
        );
        if let Value::Object(extra) = fields {
            obj.extend(extra);
        }
        json!({ "message": m })
    }
}

/// A tool's answer: the parsed one-line JSON result, or the error string.
pub(super) struct ToolReply {
    pub(super) raw: String,
    pub(super) value: Option<Value>,
    pub(super) error: Option<String>,
}

impl ToolReply {
    pub(super) fn ok(&self) -> bool {
        self.value
            .as_ref()
            .and_then(|v| v.get("ok"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    pub(super) fn str(&self, key: &str) -> Option<String> {
        self.value.as_ref()?.get(key)?.as_str().map(str::to_owned)
    }

    pub(super) fn slots(&self, key: &str) -> Vec<(String, String)> {
        self.value
            .as_ref()
            .and_then(|v| v.get(key))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| {
                        Some((
                            s.get("start")?.as_str()?.to_owned(),
                            s.get("spoken")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_owned(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Dev {
    pub(super) fn load() -> Result<Self> {
        let secrets = util::read_env_file(&dev::secrets_file()).map_err(|_| {
            anyhow!(
                "no dev secrets in target/dev: start `cargo xtask dev` in another terminal first"
            )
        })?;
        let run = util::read_env_file(&dev::run_file()).map_err(|_| {
            anyhow!(
                "the dev server is not running: start `cargo xtask dev` in another terminal first"
            )
        })?;
        let get = |vars: &[(String, String)], k: &str| {
            util::lookup(vars, k)
                .map(str::to_owned)
                .ok_or_else(|| anyhow!("{k} is missing from target/dev; restart `cargo xtask dev`"))
        };
        let dev = Self {
            api: get(&run, "API_URL")?,
            standin: get(&run, "SMS_STANDIN_URL")?,
            vapi_secret: get(&secrets, "VAPI_SECRET")?,
            admin_token: get(&secrets, "ADMIN_TOKEN")?,
            standin_sid: get(&secrets, "SMS_STANDIN_ACCOUNT_SID")?,
            standin_token: get(&secrets, "SMS_STANDIN_AUTH_TOKEN")?,
        };
        match Request::get(format!("{}/readyz", dev.api))
            .timeout(Duration::from_secs(5))
            .send()
        {
            Ok(r) if r.is_success() => Ok(dev),
            Ok(r) => bail!(
                "the dev server at {} is not ready (/readyz: HTTP {}): {}",
                dev.api,
                r.status,
                truncate(&r.text(), 200)
            ),
            Err(_) => bail!(
                "nothing answers at {}: start `cargo xtask dev` in another terminal first",
                dev.api
            ),
        }
    }

    pub(super) fn webhook(&self, body: &Value) -> Result<Value> {
        if let Some(sig) = util::signals::received() {
            bail!("interrupted ({})", util::signals::name(sig));
        }
        let r = Request::post(format!("{}/vapi/webhook", self.api))
            .header("X-Vapi-Secret", &self.vapi_secret)
            .json(body)
            .send()?;
        if !r.is_success() {
            bail!(
                "/vapi/webhook answered HTTP {}: {}",
                r.status,
                truncate(&r.text(), 300)
            );
        }
        r.json()
    }

    /// One tool call, as the model makes it; the reply is the single result of the batch.
    pub(super) fn tool(&self, call: &Call, name: &str, args: Value) -> Result<ToolReply> {
        let id = format!("call_{}", &random_hex(8)?);
        let body = call.message(
            "tool-calls",
            json!({
                "toolCallList": [
                    { "id": id, "type": "function", "function": { "name": name, "arguments": args } }
                ],
            }),
        );
        let reply = self.webhook(&body)?;
        let result = reply
            .get("results")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .ok_or_else(|| anyhow!("no results in the reply to {name}: {reply}"))?;
        if result.get("toolCallId").and_then(Value::as_str) != Some(id.as_str()) {
            bail!("the reply to {name} is for another tool call: {result}");
        }
        if let Some(err) = result.get("error").and_then(Value::as_str) {
            return Ok(ToolReply {
                raw: err.to_owned(),
                value: None,
                error: Some(err.to_owned()),
            });
        }
        let raw = result
            .get("result")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("the reply to {name} has neither result nor error: {result}"))?
            .to_owned();
        if raw.contains('\n') {
            bail!("the result of {name} spans several lines, which Vapi cannot parse: {raw:?}");
        }
        let value = serde_json::from_str(&raw).ok();
        Ok(ToolReply {
            raw,
            value,
            error: None,
        })
    }

    pub(super) fn admin(&self, req: Request) -> Result<Value> {
        let r = req.bearer(&self.admin_token).send()?;
        if !r.is_success() {
            bail!("HTTP {}: {}", r.status, truncate(&r.text(), 300));
        }
        r.json()
    }

    /// The texts the stand-in holds for `to`, oldest first: (sid, body, status).
    pub(super) fn texts_to(&self, to: &str) -> Result<Vec<(String, String, String)>> {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json?To={}&PageSize=1000",
            self.standin,
            self.standin_sid,
            query_escape(to)
        );
        let r = Request::get(url)
            .basic_auth(&self.standin_sid, &self.standin_token)
            .send()?;
        if !r.is_success() {
            bail!(
                "the SMS stand-in answered HTTP {}: {}",
                r.status,
                truncate(&r.text(), 300)
            );
        }
        let v = r.json()?;
        let mut out: Vec<(String, String, String)> = v
            .get("messages")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter(|m| m.get("to").and_then(Value::as_str) == Some(to))
                    .map(|m| {
                        let s = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
                        (s("sid"), s("body"), s("status"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        // Twilio lists newest first.
        out.reverse();
        Ok(out)
    }

    /// Waits up to `within` for a text to `to` that is not in `seen` and satisfies `pred`.
    pub(super) fn wait_for_text(
        &self,
        to: &str,
        seen: &HashSet<String>,
        within: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Result<Option<(String, String, String)>> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(m) = self
                .texts_to(to)?
                .into_iter()
                .find(|(sid, body, _)| !seen.contains(sid) && pred(body))
            {
                return Ok(Some(m));
            }
            if Instant::now() >= deadline || util::signals::received().is_some() {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    pub(super) fn demo_tenant(&self) -> Result<Value> {
        let list = self.admin(Request::get(format!("{}/admin/tenants", self.api)))?;
        dev::find_demo_tenant(&list).ok_or_else(|| {
            anyhow!(
                "no tenant answers {DEMO_CALLED_NUMBER}: restart `cargo xtask dev`, which creates the demo clinic"
            )
        })
    }
}

pub(super) fn uuid_like() -> Result<String> {
    let h = random_hex(16)?;
    Ok(format!(
        "{}-{}-4{}-8{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    ))
}
