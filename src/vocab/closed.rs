//! One table per closed vocabulary: a `macro_rules!` that turns a list of variants, each
//! with its stable identifier and its plain-English text, into the enum, its list of all
//! variants, `id`, `from_id`, `Display`, and serde both ways. The list, the identifiers
//! and the texts then cannot drift apart, because there is only one of them.

/// Declares a closed vocabulary. Each variant is written once, as
/// `Variant = ("stable_id", "plain English")`.
///
/// Generated: the enum (Copy, Eq, Ord, Hash), `ALL`, `id()`, `from_id()`, `text()`,
/// `Display` (the text), and `Serialize`/`Deserialize` as the identifier.
macro_rules! closed_vocab {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = ($id:literal, $text:expr)
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $(
                $(#[$vmeta])*
                $variant,
            )+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable identifier written to event files.
            pub fn id(self) -> &'static str {
                match self {
                    $($name::$variant => $id,)+
                }
            }

            /// The variant with this identifier.
            pub fn from_id(id: &str) -> Option<$name> {
                match id {
                    $($id => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// The variant in plain English.
            pub fn text(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.text())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.id())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                $name::from_id(&s).ok_or_else(|| {
                    ::serde::de::Error::custom(format!(
                        concat!("unknown ", stringify!($name), " '{}'"),
                        s
                    ))
                })
            }
        }
    };
}

pub(crate) use closed_vocab;

#[cfg(test)]
mod tests {
    closed_vocab! {
        /// A test vocabulary.
        enum Colour {
            /// Red.
            Red = ("red", "the colour red"),
            /// Dark blue.
            DarkBlue = ("dark_blue", "a dark blue"),
        }
    }

    #[test]
    fn one_table_gives_ids_texts_and_serde() {
        assert_eq!(Colour::ALL, &[Colour::Red, Colour::DarkBlue]);
        assert_eq!(Colour::DarkBlue.id(), "dark_blue");
        assert_eq!(Colour::DarkBlue.to_string(), "a dark blue");
        assert_eq!(Colour::from_id("red"), Some(Colour::Red));
        assert_eq!(Colour::from_id("green"), None);
        let j = serde_json::to_string(&Colour::DarkBlue).unwrap();
        assert_eq!(j, "\"dark_blue\"");
        let back: Colour = serde_json::from_str(&j).unwrap();
        assert_eq!(back, Colour::DarkBlue);
        assert!(serde_json::from_str::<Colour>("\"green\"").is_err());
    }
}
