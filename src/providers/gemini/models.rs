//! Gemini's model lifecycle table.

use super::DEFAULT_MODEL;
use crate::providers::{Lifecycle, ModelStatus};

const fn active(id: &'static str, source: &'static str) -> ModelStatus {
    ModelStatus {
        id,
        family: false,
        lifecycle: Lifecycle::Active,
        replacement: "",
        source,
    }
}

/// Model lifecycle (docs/providers.md 7.2).
pub const MODELS: &[ModelStatus] = &[
    active(
        "gemini-nano-banana-2.1",
        "Google's changelog via third-party copies (GA 2026-10-06); @google/genai 3.3.0 model enum",
    ),
    active("gemini-3-pro-image", "@google/genai 3.3.0 model enum, read 2026-12"),
    active(
        "gemini-3.1-flash-lite-image",
        "@google/genai 3.3.0 model enum, read 2026-12",
    ),
    ModelStatus {
        id: "gemini-3.1-flash-image",
        family: false,
        lifecycle: Lifecycle::Deprecated {
            since: Some("2026-10-06"),
            shutdown: None,
        },
        replacement: DEFAULT_MODEL,
        source: "Google's changelog via third-party copies, read 2026-12",
    },
    ModelStatus {
        id: "gemini-2.5-flash-image",
        family: false,
        // Google's pages disagree on the shutdown (2026-10-02 on the pricing
        // page, 2027-03-15 on the deprecations page): still called, with a warning.
        lifecycle: Lifecycle::Deprecated {
            since: None,
            shutdown: Some("2027-03-15"),
        },
        replacement: DEFAULT_MODEL,
        source: "Gemini deprecations page via third-party copies, read 2026-12 (the pricing page says 2026-10-02)",
    },
    ModelStatus {
        id: "gemini-3-pro-image-preview",
        family: false,
        // Announced shut down, yet still listed by ListModels in 2026-09:
        // called, with a warning; a 404 falls back.
        lifecycle: Lifecycle::Deprecated {
            since: None,
            shutdown: Some("2026-06-25"),
        },
        replacement: "gemini-3-pro-image",
        source: "Gemini deprecations page via third-party copies, read 2026-12",
    },
    ModelStatus {
        id: "gemini-3.1-flash-image-preview",
        family: false,
        lifecycle: Lifecycle::Deprecated {
            since: None,
            shutdown: Some("2026-06-25"),
        },
        replacement: DEFAULT_MODEL,
        source: "Gemini deprecations page via third-party copies, read 2026-12",
    },
    ModelStatus {
        id: "imagen-",
        family: true,
        lifecycle: Lifecycle::Retired { on: "2026-08-20" },
        replacement: DEFAULT_MODEL,
        source: "shut down on the Gemini API: vercel/ai (2026-08-20) and python-genai (2026-08-21) removed it after the shutdown",
    },
];
