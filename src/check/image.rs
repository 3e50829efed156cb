//! Images: where a service's image comes from. A kind builds one
//! (`build`), names one (`image`, pinned by `digest`), or the service takes
//! another's through `from`, followed to the service that has one.
//!
//! Input: one [`Instance`] and every other. Output: an [`ImageSource`]:
//! the build (owned by this service or the one it shares), the pinned image
//! reference, the base image and the working directory.
//! Invariant: a service has a build or an image, never both.

use indexmap::IndexMap;

use super::resolve::{is_container_path, is_image_reference, unknown_service, Instance, Resolver};
use super::types::Val;
use crate::diag::{Code, Diagnostic};
use crate::model::Build;

/// Where a service's image comes from, `from` chains followed.
pub(super) struct ImageSource {
    pub(super) build: Option<Build>,
    /// The image reference, `@digest` appended when pinned.
    pub(super) image: Option<String>,
    pub(super) base_image: Option<String>,
    pub(super) workdir: Option<String>,
    /// Whether the image is pinned by a digest (its own or the shared one's).
    pub(super) digest: bool,
}

impl Resolver<'_> {
    /// The service's build or image.
    pub(super) fn image_source(&mut self, instance: &Instance<'_>, all: &IndexMap<String, Instance<'_>>) -> ImageSource {
        let name = &instance.name.name;
        let mut build = instance.kind.shape.build.as_ref().map(|template| Build {
            template: template.clone(),
            owner: name.clone(),
            ignore: Vec::new(),
            dev_target: None,
            dev_keep: Vec::new(),
        });
        if let Some(build) = &mut build {
            build.ignore = self.literal_list(instance, "dockerignore");
            build.dev_target = self.property_text(instance, "dev_target").and_then(|t| t.as_literal());
            build.dev_keep = self.literal_list(instance, "dev_keep");
        }
        let mut image = self.property_text(instance, "image").and_then(|text| text.as_literal());
        let mut from_failed = false;
        let mut inherited_digest: Option<String> = None;
        let mut workdir = self.property_text(instance, "workdir").and_then(|t| t.as_literal());
        if let Some((Val::Service(from), span)) = instance.values.get("from") {
            // Follow `from` through other services to the one that has an image.
            let mut current = from;
            let mut seen = vec![name.as_str()];
            loop {
                let Some(origin) = all.get(&current.name) else {
                    self.error(unknown_service(current, self.suggestible(all.keys())));
                    from_failed = true;
                    break;
                };
                if seen.contains(&current.name.as_str()) {
                    self.error(
                        Diagnostic::error(Code::E0203, format!("service `{name}` takes its image from itself"), *span, "points back here")
                            .with_help("`from` names another service that is built or has an `image`"),
                    );
                    from_failed = true;
                    break;
                }
                seen.push(current.name.as_str());
                if let Some(template) = &origin.kind.shape.build {
                    let dev_target = self.property_text(origin, "dev_target").and_then(|t| t.as_literal());
                    let dev_keep = self.literal_list(origin, "dev_keep");
                    build =
                        Some(Build { template: template.clone(), owner: current.name.clone(), ignore: Vec::new(), dev_target, dev_keep });
                    workdir = self.property_text(origin, "workdir").and_then(|t| t.as_literal());
                    break;
                }
                if let Some(origin_image) = self.property_text(origin, "image").and_then(|text| text.as_literal()) {
                    image = Some(origin_image);
                    inherited_digest.clone_from(&origin.digest);
                    break;
                }
                if let Some((Val::Service(next), _)) = origin.values.get("from") {
                    current = next;
                    continue;
                }
                self.error(
                    Diagnostic::error(Code::E0206, format!("`{}` has no image to share", current.name), from.span, "no image")
                        .with_help("`from` names a service that is built or has an `image`"),
                );
                from_failed = true;
                break;
            }
        }
        let image = self.pinned_image(instance, build.is_some(), image, inherited_digest.as_ref(), from_failed);
        let base_image = if build.as_ref().is_some_and(|b| b.owner == *name) {
            self.property_text(instance, "base_image").and_then(|t| t.as_literal())
        } else {
            None
        };
        for reference in image.iter().chain(base_image.iter()) {
            let reference = reference.split_once('@').map_or(reference.as_str(), |(name, _)| name);
            if !is_image_reference(reference) {
                let span = instance.values.get("image").or_else(|| instance.values.get("version")).map_or(instance.span, |(_, span)| *span);
                self.error(
                    Diagnostic::error(Code::E0107, format!("`{reference}` is not an image reference"), span, "invalid image").with_help(
                        "an image is `[registry/]name[:tag]`, like `postgres:16.4-alpine`; versions are letters, digits, `.`, `_` and `-`",
                    ),
                );
            }
        }

        ImageSource { build, image, base_image, workdir, digest: instance.digest.is_some() || inherited_digest.is_some() }
    }

    /// The image reference, `@digest` appended when pinned; none for a
    /// built image (E0107 if it has a digest) or when nothing gives one.
    fn pinned_image(
        &mut self,
        instance: &Instance<'_>,
        built: bool,
        image: Option<String>,
        inherited_digest: Option<&String>,
        from_failed: bool,
    ) -> Option<String> {
        let name = &instance.name.name;
        match (built, image) {
            // Built images get no name: Compose names them after the project and
            // service, and an `image:` tag would be a mutable, unpinned reference.
            (true, _) => {
                if instance.digest.is_some() {
                    self.error(
                        Diagnostic::error(
                            Code::E0107,
                            format!("service `{name}` is built here, so it has no digest to pin"),
                            instance.span,
                            "built from source",
                        )
                        .with_help("`digest` pins prebuilt images; remove it"),
                    );
                }
                None
            }
            (false, Some(image)) => {
                if inherited_digest.is_none() {
                    self.check_pinned(&image, instance);
                }
                Some(match instance.digest.as_ref().or(inherited_digest) {
                    Some(digest) => format!("{image}@{digest}"),
                    None => image,
                })
            }
            (false, None) => {
                if !from_failed {
                    self.kind_error(
                        Diagnostic::error(
                            Code::E0401,
                            format!("kind `{}` gives no image", instance.kind.name.name),
                            instance.kind.name.span,
                            "no `image` or `build`",
                        )
                        .with_help("a kind sets `image = \"...\"` or `build = \"python\"`, or declares `field from : service`"),
                    );
                }
                None
            }
        }
    }

    /// The working directory and `dev_keep` are paths the Compose files and
    /// Dockerfiles print as they are.
    pub(super) fn check_image_paths(&mut self, instance: &Instance<'_>, workdir: Option<&str>, build: Option<&Build>) {
        if let Some(path) = workdir.filter(|path| !is_container_path(path)) {
            let span = instance.kind.properties.get("workdir").map_or(instance.span, |expr| expr.span);
            self.error(
                Diagnostic::error(Code::E0107, format!("`workdir` is `{}`", path.escape_default()), span, "not an absolute path")
                    .with_help("the working directory is an absolute path inside the image, like \"/app\""),
            );
        }
        for path in build.iter().flat_map(|build| &build.dev_keep) {
            if path.is_empty()
                || path.starts_with('/')
                || !is_container_path(&format!("/{path}"))
                || path.split('/').any(|part| part == "..")
            {
                let span = instance.kind.properties.get("dev_keep").map_or(instance.span, |expr| expr.span);
                self.error(
                    Diagnostic::error(
                        Code::E0107,
                        format!("`dev_keep` holds `{}`", path.escape_default()),
                        span,
                        "not a path inside `workdir`",
                    )
                    .with_help("name a directory relative to the working directory, like \"node_modules\""),
                );
            }
        }
    }
}
