//! Usage as providers report it, shaped like the official SDKs' types
//! (`openai` `ImagesResponse.usage`, `@google/genai`
//! `GenerateContentResponseUsageMetadata`), read into [`Tokens`].

use super::Tokens;
use serde::Deserialize;

/// OpenAI's `usage` on image responses (and on a stream's `completed` event).
#[derive(Debug, Default, Deserialize)]
pub struct OpenAiUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    input_tokens_details: Option<OpenAiDetails>,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    output_tokens_details: Option<OpenAiDetails>,
}

#[derive(Debug, Default, Deserialize)]
struct OpenAiDetails {
    #[serde(default)]
    text_tokens: Option<u64>,
    #[serde(default)]
    image_tokens: Option<u64>,
}

impl OpenAiUsage {
    /// The tokens by kind. Without details, input is text and output is
    /// image. Streamed previews are taken as included in `output_tokens`
    /// (nothing is added for them).
    pub fn tokens(&self) -> Tokens {
        let (text_in, image_in) = split(self.input_tokens, &self.input_tokens_details, true);
        let (text_out, image_out) = split(self.output_tokens, &self.output_tokens_details, false);
        Tokens {
            text_in,
            image_in,
            text_out,
            image_out,
        }
    }
}

/// (text, image) of a total, from its details when given.
fn split(total: u64, details: &Option<OpenAiDetails>, rest_is_text: bool) -> (u64, u64) {
    match details {
        Some(OpenAiDetails {
            text_tokens: Some(t),
            image_tokens: Some(i),
        }) => (*t, *i),
        Some(OpenAiDetails {
            text_tokens: Some(t),
            image_tokens: None,
        }) => (*t, total.saturating_sub(*t)),
        Some(OpenAiDetails {
            text_tokens: None,
            image_tokens: Some(i),
        }) => (total.saturating_sub(*i), *i),
        _ if rest_is_text => (total, 0),
        _ => (0, total),
    }
}

/// Gemini's `usageMetadata`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GeminiUsage {
    #[serde(default)]
    prompt_token_count: u64,
    #[serde(default)]
    prompt_tokens_details: Vec<Modality>,
    #[serde(default)]
    candidates_token_count: u64,
    #[serde(default)]
    candidates_tokens_details: Vec<Modality>,
    #[serde(default)]
    thoughts_token_count: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Modality {
    #[serde(default)]
    modality: String,
    #[serde(default)]
    token_count: u64,
}

fn image_count(details: &[Modality]) -> u64 {
    details
        .iter()
        .filter(|m| m.modality == "IMAGE")
        .map(|m| m.token_count)
        .sum()
}

impl GeminiUsage {
    /// The tokens by kind: image output from the IMAGE entry of the
    /// candidates' details, everything else of the candidates plus the
    /// thoughts as text output; without details the candidates count as
    /// image output.
    pub fn tokens(&self) -> Tokens {
        let image_in = image_count(&self.prompt_tokens_details);
        let image_out = if self.candidates_tokens_details.is_empty() {
            self.candidates_token_count
        } else {
            image_count(&self.candidates_tokens_details)
        };
        Tokens {
            text_in: self.prompt_token_count.saturating_sub(image_in),
            image_in,
            text_out: self.candidates_token_count.saturating_sub(image_out)
                + self.thoughts_token_count,
            image_out,
        }
    }
}
