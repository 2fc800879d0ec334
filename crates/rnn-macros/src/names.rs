//! The model's names and attributes: a name that would shadow a primitive type, two models
//! whose names (or generated aliases) clash, derives a model cannot have.

use crate::check::Errors;
use crate::parse::ModelDef;
use syn::ext::IdentExt;
use syn::punctuated::Punctuated;
use syn::{Ident, Token};

/// The primitive types: a model of that name would shadow the type in the whole module (the
/// model's own `f32` scalars and every `f32` the user writes there).
const PRIMITIVES: &[&str] = &[
    "bool", "char", "str", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64",
    "i128", "isize", "f16", "f32", "f64", "f128",
];

/// Whether `name` is a primitive type's (`f32`, `r#f32`): no struct of that name is emitted.
pub fn is_primitive(name: &Ident) -> bool {
    PRIMITIVES.contains(&name.unraw().to_string().as_str())
}

pub(crate) fn check_name(name: &Ident, errs: &mut Errors) {
    if is_primitive(name) {
        let n = name.unraw();
        errs.spanned(
            name,
            format!(
                "a model cannot be named `{n}`: a struct `{n}` would shadow the primitive type `{n}` in this module; choose another name"
            ),
        );
    }
}

/// The traits a model can derive: its cells implement them (`Default` is `zeros()` or
/// `init(seed)`; float weights are not `Eq`, `Ord` or `Hash`).
const DERIVES: &[&str] = &["Clone", "Copy", "Debug", "PartialEq"];

/// `#[derive(...)]` on the model: only [`DERIVES`], each other one an error at its path.
pub(crate) fn check_attrs(def: &ModelDef, errs: &mut Errors) {
    let supported = "a model can derive `Clone`, `Copy`, `Debug` and `PartialEq`";
    for a in def.attrs.iter().filter(|a| a.path().is_ident("derive")) {
        let Ok(paths) = a.parse_args_with(Punctuated::<syn::Path, Token![,]>::parse_terminated)
        else {
            continue; // rustc reports a malformed `derive` itself
        };
        for p in paths {
            let Some(last) = p.segments.last().map(|s| s.ident.to_string()) else {
                continue;
            };
            if DERIVES.contains(&last.as_str()) {
                continue;
            }
            let written = p
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect::<Vec<_>>()
                .join("::");
            let written = if p.leading_colon.is_some() {
                format!("::{written}")
            } else {
                written
            };
            let n = &def.name;
            let msg = match last.as_str() {
                "Default" => format!(
                    "cannot derive `{written}` for model `{n}`; {supported}. For a new model call `{n}::zeros()` (every parameter zero) or `{n}::init(seed)` (Keras's initializers)"
                ),
                "Eq" | "Hash" | "PartialOrd" | "Ord" => format!(
                    "cannot derive `{written}` for model `{n}`: its weights are floating-point numbers; {supported}"
                ),
                _ => format!("cannot derive `{written}` for model `{n}`; {supported}"),
            };
            errs.spanned(&p, msg);
        }
    }
}

/// The names one model declares: the struct and its `State`, `Cache` and `Tape` aliases.
fn declared(def: &ModelDef) -> [(String, &'static str); 4] {
    let n = def.name.unraw().to_string();
    [
        (n.clone(), "the model"),
        (format!("{n}State"), "the state type alias"),
        (format!("{n}Cache"), "the cache type alias"),
        (format!("{n}Tape"), "the tape type alias"),
    ]
}

/// A model whose names clash with an earlier model's in the same invocation.
pub struct Clash {
    /// One error, at the later model's name.
    pub error: syn::Error,
    /// Whether the later model's struct name is still free, so a placeholder can stand in
    /// for it (uses of it then give no follow-on "cannot find type" errors).
    pub placeholder: bool,
}

/// For each model, its clash with the models before it: the second `Foo`, or `FooState`
/// beside `Foo` (whose state alias is `FooState`), in either order.
pub fn clashes(models: &[ModelDef]) -> Vec<Option<Clash>> {
    let mut out = Vec::new();
    for (i, def) in models.iter().enumerate() {
        let mine = declared(def);
        let clash = models[..i].iter().find_map(|earlier| {
            let theirs = declared(earlier);
            mine.iter().find_map(|(m, what)| {
                theirs
                    .iter()
                    .find(|(t, _)| t == m)
                    .map(|(_, their_what)| (m.clone(), *what, *their_what, earlier))
            })
        });
        out.push(clash.map(|(dup, what, their_what, earlier)| {
            let n = def.name.unraw();
            let e = earlier.name.unraw();
            let msg = match (what, their_what) {
                ("the model", "the model") => {
                    format!("model `{n}` is declared twice in this rnn_model! invocation; rename one of them")
                }
                ("the model", their) => format!(
                    "model `{n}` clashes with `{dup}`, {their} that model `{e}` above declares; rename this model"
                ),
                (what, _) => format!(
                    "model `{n}` would declare `{dup}` ({what}), the name of model `{e}` above; rename one of them"
                ),
            };
            let name = &mine[0].0;
            Clash {
                error: syn::Error::new(def.name.span(), msg),
                placeholder: !models[..i]
                    .iter()
                    .any(|m| declared(m).iter().any(|(d, _)| d == name)),
            }
        }));
    }
    out
}
