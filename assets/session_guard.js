// LAN mode: when the login has ended (expired, logged out in another tab, password changed, user
// removed), the server answers the page's requests with 401. Go to the login page instead of
// leaving a page that silently stops working; after logging in the user comes back here.
(function () {
    var originalFetch = window.fetch;
    if (!originalFetch) { return; }
    var leaving = false;
    window.fetch = function () {
        return originalFetch.apply(this, arguments).then(function (response) {
            if (response.status !== 401) { return response; }
            if (!leaving) {
                leaving = true;
                var here = window.location.pathname + window.location.search;
                window.location.assign("/login?next=" + encodeURIComponent(here));
            }
            // The page is leaving: never hand the refusal to Dash, whose error handling would
            // race the navigation (and log "body stream already read").
            return new Promise(function () {});
        });
    };
})();
