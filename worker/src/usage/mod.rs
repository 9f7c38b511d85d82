//! What a generation cost, in the response: OpenAI's `usage` (when every
//! billed call reported tokens) plus our `cost_usd` and its split per
//! provider and model.

pub mod budget;
#[cfg(target_arch = "wasm32")]
pub mod hold;

use imagegen::cost::Usage;
use imagegen::ProviderName;
use serde::Serialize;

/// OpenAI's `usage` of an images response.
#[derive(Debug, Serialize)]
pub struct OpenAiUsage {
    input_tokens: u64,
    input_tokens_details: Details,
    output_tokens: u64,
    output_tokens_details: Details,
    total_tokens: u64,
}

#[derive(Debug, Serialize)]
struct Details {
    text_tokens: u64,
    image_tokens: u64,
}

/// One provider and model's share, snake_case.
#[derive(Debug, Serialize)]
pub struct CostRow {
    provider: ProviderName,
    model: String,
    images: u32,
    cost_usd: Option<f64>,
}

/// The cost fields of a response.
#[derive(Debug, Serialize)]
pub struct CostFields {
    /// OpenAI's `usage`, when every billed call reported tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<OpenAiUsage>,
    /// Total USD; `null` when unknown.
    pub cost_usd: Option<f64>,
    /// Per provider and model.
    pub cost_by_provider: Vec<CostRow>,
}

impl From<&Usage> for CostFields {
    fn from(u: &Usage) -> Self {
        let usage = u.tokens.map(|t| OpenAiUsage {
            input_tokens: t.text_in + t.image_in,
            input_tokens_details: Details {
                text_tokens: t.text_in,
                image_tokens: t.image_in,
            },
            output_tokens: t.text_out + t.image_out,
            output_tokens_details: Details {
                text_tokens: t.text_out,
                image_tokens: t.image_out,
            },
            total_tokens: t.text_in + t.image_in + t.text_out + t.image_out,
        });
        CostFields {
            usage,
            cost_usd: u.cost_usd,
            cost_by_provider: u
                .by_provider
                .iter()
                .map(|r| CostRow {
                    provider: r.provider,
                    model: r.model.clone(),
                    images: r.images,
                    cost_usd: r.cost_usd,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use imagegen::cost::{ProviderUsage, Tokens};
    use serde_json::json;

    #[test]
    fn openai_shape_and_our_cost() {
        let u = Usage {
            cost_usd: Some(0.04),
            by_provider: vec![ProviderUsage {
                provider: ProviderName::Openai,
                model: "gpt-image-2".into(),
                images: 1,
                cost_usd: Some(0.04),
            }],
            tokens: Some(Tokens {
                text_in: 18,
                image_in: 0,
                text_out: 0,
                image_out: 1056,
            }),
        };
        let v = serde_json::to_value(CostFields::from(&u)).unwrap();
        assert_eq!(v["usage"]["input_tokens"], 18);
        assert_eq!(v["usage"]["output_tokens_details"]["image_tokens"], 1056);
        assert_eq!(v["usage"]["total_tokens"], 1074);
        assert_eq!(v["cost_usd"], 0.04);
        assert_eq!(
            v["cost_by_provider"],
            json!([{"provider": "openai", "model": "gpt-image-2", "images": 1, "cost_usd": 0.04}])
        );
        let unknown = Usage::default();
        let v = serde_json::to_value(CostFields::from(&unknown)).unwrap();
        assert!(v.get("usage").is_none());
        assert!(v["cost_usd"].is_null());
    }
}
