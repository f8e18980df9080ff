//! Reading event files back into the decoders' types.
//!
//! Events are written as one JSON object each, with the writer's own fields (`ts`,
//! `conn`, `dir`, `layer`, `seq`, and `inner` for events inside a gateway tunnel) next to
//! the event's. [`DecodeEvent::from_json`] turns such an object back into the event, by
//! its layer rather than by trying every type in turn: an object can fit the types of
//! several layers, and an untagged guess would take whichever parses first.
//!
//! The helpers below are the inverses of the name renderings in [`super::names`] and
//! friends, so each name table is read both ways from one place.

use super::gateway::{GwEvent, Inner};
use super::tsgu::packet::Packet;
use super::{DecodeError, DecodeEvent};
use crate::vocab::{Dir, Layer};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Parses the `0x…` hex form in which names render values they do not know.
pub fn parse_hex(s: &str) -> Option<u32> {
    let hex = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
    // from_str_radix alone would accept a sign, which no writer produces.
    if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(hex, 16).ok()
}

/// Parses a plain decimal number, the form in which "unknown N" names end.
pub fn parse_dec<T: std::str::FromStr>(s: &str) -> Option<T> {
    // FromStr alone would accept a sign, which no writer produces.
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The value a list of flag names stands for: the inverse of [`super::names::flag_names`].
///
/// `zero` is the name a type writes for the empty set (e.g. `"NONE"`), if it writes one;
/// unknown bits come back from their `0x…` form.
pub fn flags_from_names(
    names: &[String],
    table: &[(u32, &str)],
    zero: Option<&str>,
) -> Result<u32, String> {
    names.iter().try_fold(0u32, |acc, name| {
        if zero == Some(name.as_str()) {
            return Ok(acc);
        }
        table
            .iter()
            .find(|(_, n)| n == name)
            .map(|(bit, _)| *bit)
            .or_else(|| parse_hex(name))
            .map(|bits| acc | bits)
            .ok_or_else(|| format!("unknown flag name '{name}'"))
    })
}

/// Deserialises a value written as a single name, through `parse`, its inverse.
pub fn de_name<'de, D, T>(
    d: D,
    what: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    let s = String::deserialize(d)?;
    parse(&s).ok_or_else(|| D::Error::custom(format!("unknown {what} '{s}'")))
}

/// Deserialises a flag set written as a list of names (see [`flags_from_names`]).
pub fn de_flag_names<'de, D>(
    d: D,
    table: &[(u32, &str)],
    zero: Option<&str>,
) -> Result<u32, D::Error>
where
    D: Deserializer<'de>,
{
    let names = Vec::<String>::deserialize(d)?;
    flags_from_names(&names, table, zero).map_err(D::Error::custom)
}

impl DecodeEvent {
    /// Reads back one event object of an event file, written at `layer`.
    ///
    /// The writer's fields around the event (`ts`, `conn`, `dir`, `layer`, `seq`,
    /// `source`) are ignored, except that `dir` restores the direction HTTP events do
    /// not write themselves. `"inner": true` marks an event of the RDP connection
    /// inside a gateway tunnel; it is read at its own layer and wrapped in [`Inner`].
    /// Anything that is not such an event is an `Err`, never a panic.
    pub fn from_json(layer: Layer, v: &Value) -> Result<DecodeEvent, String> {
        let obj = v.as_object().ok_or("an event is a JSON object")?;
        let kind = obj
            .get("kind")
            .ok_or("the event has no \"kind\"")?
            .as_str()
            .ok_or("the event's \"kind\" is not a string")?;
        let inner = match obj.get("inner") {
            None | Some(Value::Bool(false)) => false,
            Some(Value::Bool(true)) => true,
            Some(_) => return Err("\"inner\" is not a boolean".to_string()),
        };
        let event = direct(layer, kind, v)?;
        Ok(if inner {
            DecodeEvent::Inner(Inner(Box::new(event)))
        } else {
            event
        })
    }
}

/// The event at `layer` that is not wrapped as inner.
fn direct(layer: Layer, kind: &str, v: &Value) -> Result<DecodeEvent, String> {
    let what = format!("{layer} event '{kind}'");
    // A decoder that gives up reports at its own layer, whichever it is.
    if kind == "decode_error" {
        let e: DecodeError = parse(v, &what)?;
        if e.layer != layer {
            return Err(format!(
                "a decode_error of layer {} written at layer {layer}",
                e.layer
            ));
        }
        return Ok(DecodeEvent::Error(e));
    }
    Ok(match layer {
        Layer::X224 => DecodeEvent::X224(parse(v, &what)?),
        Layer::Tls => DecodeEvent::Tls(parse(v, &what)?),
        Layer::Mcs => DecodeEvent::Mcs(parse(v, &what)?),
        Layer::Rdp => DecodeEvent::Rdp(parse(v, &what)?),
        Layer::Http => {
            let mut e: super::http::HttpEvent = parse(v, &what)?;
            if let Some(dir) = record_dir(v) {
                e.set_dir(dir);
            }
            DecodeEvent::Http(Box::new(e))
        }
        Layer::Ws => DecodeEvent::Ws(parse(v, &what)?),
        Layer::Tsgu => DecodeEvent::Gw(gw_event(parse(v, &what)?)),
        other => return Err(format!("layer {other} has no decoder events")),
    })
}

/// Deserialises `T` from the object, naming the event in the error.
fn parse<T: DeserializeOwned>(v: &Value, what: &str) -> Result<T, String> {
    T::deserialize(v).map_err(|e| format!("{what}: {e}"))
}

/// The record's direction, which HTTP events leave to the record to write.
fn record_dir(v: &Value) -> Option<Dir> {
    v.get("dir").and_then(Value::as_str).and_then(Dir::from_id)
}

/// Puts back what flattening a packet into its event loses.
///
/// An UNKNOWN packet's `len` (its packetLength) and the event's `len` (the frame's
/// length) are one JSON key, and the event's is written last. The framer cuts each
/// frame at packetLength, so the two are equal and the event's stands for both.
fn gw_event(mut e: GwEvent) -> GwEvent {
    if let GwEvent::TsguPacket {
        packet: Packet::Unknown { len, .. },
        len: frame_len,
    } = &mut e
    {
        *len = u32::try_from(*frame_len).unwrap_or(u32::MAX);
    }
    e
}
