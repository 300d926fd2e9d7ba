//! The protobuf codec of every SkillOS service: prost's, except that a message that does not
//! decode answers INVALID_ARGUMENT with a short message of our own, a stable reason
//! (`MALFORMED_REQUEST`, or `PAYLOAD_TOO_DEEP` for nesting past the decoder's limit) and the
//! field at fault, instead of INTERNAL with the decoder's text.

use std::collections::HashMap;
use std::marker::PhantomData;

use prost::Message;
use tonic::Status;
use tonic::codec::{BufferSettings, DecodeBuf, Decoder};
use tonic_prost::{ProstCodec, ProstEncoder};
use tonic_types::{ErrorDetails, StatusExt};

/// `google.rpc.ErrorInfo.domain` of every SkillOS error.
pub const ERROR_DOMAIN: &str = "skillos.dev";
/// The reason of a message that is not valid protobuf for its method.
pub const MALFORMED_REQUEST: &str = "MALFORMED_REQUEST";
/// The reason of a message nested deeper than the decoder allows.
pub const PAYLOAD_TOO_DEEP: &str = "PAYLOAD_TOO_DEEP";
/// prost's limit on nested messages; a `google.protobuf.Struct` spends about three per level
/// of objects or lists.
pub const MAX_NESTING: u32 = 100;

/// The codec the generated services and clients use (`codec_path` in `build.rs`).
#[derive(Debug, Clone)]
pub struct Codec<T, U> {
    inner: ProstCodec<T, U>,
}

impl<T, U> Default for Codec<T, U> {
    fn default() -> Self {
        Self {
            inner: ProstCodec::default(),
        }
    }
}

impl<T, U> tonic::codec::Codec for Codec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = StrictDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        self.inner.encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        StrictDecoder(PhantomData)
    }
}

/// prost's decoding with our refusals.
#[derive(Debug, Clone)]
pub struct StrictDecoder<U>(PhantomData<U>);

impl<U: Message + Default> Decoder for StrictDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        U::decode(buf).map(Some).map_err(refusal)
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::default()
    }
}

/// The status of a message that does not decode. prost names the fields it was in, innermost
/// first (`Struct.fields: Value.kind: RunRequest.payload: ...`): the last one is the request
/// field at fault.
pub fn refusal(error: prost::DecodeError) -> Status {
    let text = error.to_string();
    let detail = text
        .strip_prefix("failed to decode Protobuf message: ")
        .unwrap_or(&text);
    let field = detail
        .split(": ")
        .take_while(|segment| !segment.contains(' ') && segment.contains('.'))
        .last()
        .and_then(|segment| segment.split_once('.'))
        .map(|(_, field)| field.to_owned());
    let (reason, message) = if detail.ends_with("recursion limit reached") {
        (
            PAYLOAD_TOO_DEEP,
            format!(
                "the message nests deeper than {MAX_NESTING} levels (about 32 levels of \
                 objects or lists in a payload)"
            ),
        )
    } else {
        (
            MALFORMED_REQUEST,
            "the message is not valid protobuf for this method".to_owned(),
        )
    };
    let mut details = ErrorDetails::with_error_info(reason, ERROR_DOMAIN, HashMap::new());
    if let Some(field) = field {
        details.add_bad_request_violation(field, message.clone());
    }
    Status::with_error_details(tonic::Code::InvalidArgument, message, details)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1;

    fn decode(bytes: &[u8]) -> Status {
        refusal(v1::RunRequest::decode(bytes).unwrap_err())
    }

    #[test]
    fn a_truncated_message_is_malformed_without_the_decoders_text() {
        let request = v1::RunRequest {
            target: Some(v1::run_request::Target::SkillId("a/b".into())),
            ..Default::default()
        };
        let bytes = request.encode_to_vec();
        let status = decode(&bytes[..bytes.len() - 1]);
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(
            !status.message().contains("Protobuf"),
            "{}",
            status.message()
        );
        assert_eq!(
            status.get_details_error_info().unwrap().reason,
            MALFORMED_REQUEST
        );
        let field = &status.get_details_bad_request().unwrap().field_violations[0];
        assert_eq!(field.field, "target");
    }

    #[test]
    fn invalid_utf8_in_a_string_is_malformed() {
        // Field 1 (skill_id), length 2, bytes that are not UTF-8.
        let status = decode(&[0x0a, 0x02, 0xff, 0xfe]);
        assert_eq!(
            status.get_details_error_info().unwrap().reason,
            MALFORMED_REQUEST
        );
    }

    #[test]
    fn nesting_past_the_limit_names_it() {
        let mut value = prost_types::Value {
            kind: Some(prost_types::value::Kind::NumberValue(1.0)),
        };
        for _ in 0..40 {
            let mut fields = std::collections::BTreeMap::new();
            fields.insert("a".to_owned(), value);
            value = prost_types::Value {
                kind: Some(prost_types::value::Kind::StructValue(prost_types::Struct {
                    fields,
                })),
            };
        }
        let Some(prost_types::value::Kind::StructValue(payload)) = value.kind else {
            unreachable!()
        };
        let request = v1::RunRequest {
            payload: Some(payload),
            ..Default::default()
        };
        let status = decode(&request.encode_to_vec());
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert_eq!(
            status.get_details_error_info().unwrap().reason,
            PAYLOAD_TOO_DEEP
        );
        assert!(status.message().contains("100"), "{}", status.message());
        let field = &status.get_details_bad_request().unwrap().field_violations[0];
        assert_eq!(field.field, "payload");
    }
}
