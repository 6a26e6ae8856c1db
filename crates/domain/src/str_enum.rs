//! One macro for the closed string enums of the API (channel, priority, role …), so the wire
//! name, the stored name and the parse error come from a single table.

/// Declares a `Copy` enum with snake_case wire names, `as_str`, `ALL` and a `parse` that
/// names the offending field on failure.
#[macro_export]
macro_rules! str_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        pub enum $name { $(#[serde(rename = $text)] $variant),+ }

        // By hand: utoipa's derive does not see a `rename` whose literal comes from a macro,
        // and would document the Rust names. The document must list the wire names.
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(stringify!($name))
            }
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the wire name; `field` names the input in the error.
            pub fn parse(text: &str, field: &str) -> Result<Self, $crate::DomainError> {
                match text {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::DomainError::invalid(
                        field,
                        $crate::Code::InvalidValue,
                        format!(
                            "`{text}` is not one of: {}",
                            [$($text),+].join(", ")
                        ),
                    )),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
