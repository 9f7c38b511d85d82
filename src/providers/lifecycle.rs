//! Model lifecycle: which models are current, deprecated or retired, as
//! data from each provider's table, and the warnings and errors that follow.

use super::{warning, Lifecycle, ModelStatus};
use crate::model::{Error, ErrorCode, ProviderName, Warning, WarningCode};

/// True when `model` is `id` or a dated snapshot of it (`id-2026-04-21`).
fn is_snapshot_of(model: &str, id: &str) -> bool {
    match model.strip_prefix(id) {
        Some("") => true,
        Some(rest) => {
            let b = rest.as_bytes();
            b.len() == 11
                && b.first() == Some(&b'-')
                && rest.char_indices().skip(1).all(|(i, c)| {
                    if i == 5 || i == 8 {
                        c == '-'
                    } else {
                        c.is_ascii_digit()
                    }
                })
        }
        None => false,
    }
}

/// The provider's model table.
pub fn model_table(provider: ProviderName) -> &'static [ModelStatus] {
    provider.spec().models
}

/// The lifecycle row of a model, if the table knows it. Unknown ids are
/// sent as they are: new models appear before the table knows of them.
pub fn model_status(provider: ProviderName, model: &str) -> Option<&'static ModelStatus> {
    model_table(provider).iter().find(|row| {
        if row.family {
            model.starts_with(row.id)
        } else {
            is_snapshot_of(model, row.id)
        }
    })
}

/// The `model_deprecated` warning for a deprecated model, if it is one.
pub fn deprecation_warning(provider: ProviderName, model: &str) -> Option<Warning> {
    let row = model_status(provider, model)?;
    let Lifecycle::Deprecated { since, shutdown } = row.lifecycle else {
        return None;
    };
    let end = match shutdown {
        Some(date) => format!("; shutdown announced for {date}"),
        None => String::new(),
    };
    let since = match since {
        Some(date) => format!(" since {date}"),
        None => String::new(),
    };
    Some(warning(
        provider,
        WarningCode::ModelDeprecated,
        format!(
            "{provider} model {model} is deprecated{since}{end}; use {} instead ({})",
            row.replacement, row.source
        ),
    ))
}

/// The `not_found` error for a retired model, which is never called.
pub fn retired_model_error(provider: ProviderName, model: &str) -> Option<Error> {
    let row = model_status(provider, model)?;
    let Lifecycle::Retired { on } = row.lifecycle else {
        return None;
    };
    Some(
        Error::new(
            ErrorCode::NotFound,
            format!(
                "{provider} ({model} not_found): the model was shut down on {on} ({}), so it was not called; the current default is {}",
                row.source,
                crate::request::default_model(provider)
            ),
        )
        .with_provider(provider),
    )
}

/// A hint for a provider's "model not found": the model may have been
/// retired since the table was written.
pub(crate) fn not_found_hint(provider: ProviderName, model: &str) -> String {
    let default = crate::request::default_model(provider);
    match model_status(provider, model).map(|r| r.lifecycle) {
        Some(Lifecycle::Retired { on }) => {
            format!(" (the model was shut down on {on}; the current default is {default})")
        }
        _ if model == default => {
            " (the model may have been retired since this version of the library was released; check the provider's model list)".to_string()
        }
        _ => format!(
            " (the model may have been retired or renamed; the current default is {default})"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_rows_match_ids_and_dated_snapshots_only() {
        assert!(is_snapshot_of("gpt-image-1", "gpt-image-1"));
        assert!(is_snapshot_of("gpt-image-1-2025-04-23", "gpt-image-1"));
        assert!(!is_snapshot_of("gpt-image-1-mini", "gpt-image-1"));
        assert!(!is_snapshot_of("gpt-image-1.5", "gpt-image-1"));
        assert!(!is_snapshot_of("gpt-image-1-2025-0423x", "gpt-image-1"));
        let row = |p, m| model_status(p, m).map(|r| r.lifecycle);
        assert_eq!(
            row(ProviderName::Openai, "gpt-image-1"),
            Some(Lifecycle::Retired { on: "2026-10-23" })
        );
        assert!(matches!(
            row(ProviderName::Openai, "gpt-image-1-mini"),
            Some(Lifecycle::Deprecated { .. })
        ));
        assert!(matches!(
            row(ProviderName::Openai, "dall-e-3"),
            Some(Lifecycle::Retired { .. })
        ));
        assert!(matches!(
            row(ProviderName::Gemini, "imagen-4.0-generate-001"),
            Some(Lifecycle::Retired { .. })
        ));
        assert_eq!(row(ProviderName::Openai, "gpt-image-3"), None);
        assert!(deprecation_warning(ProviderName::Openai, "gpt-image-2").is_none());
        assert!(retired_model_error(ProviderName::Openai, "gpt-image-2").is_none());
        for p in ProviderName::ALL {
            let default = crate::request::default_model(p);
            if p != ProviderName::Mock {
                assert_eq!(row(p, default), Some(Lifecycle::Active), "{p} {default}");
            }
            for r in model_table(p) {
                if !matches!(r.lifecycle, Lifecycle::Active) {
                    let replacement = model_status(p, r.replacement).map(|x| x.lifecycle);
                    assert_eq!(replacement, Some(Lifecycle::Active), "{p} {}", r.id);
                }
            }
        }
    }
}
